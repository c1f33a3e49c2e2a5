"""Argument checks shared by the public functions and the fake kernels, raising what native raises
(TypeError for a wrong Python type, RuntimeError for a device mismatch) with a message that names
the op and the argument."""
import torch

_INT_TYPES = (int, torch.SymInt)


def tensor(op, name, value, optional=False):
    """value must be a Tensor (or None when optional)."""
    if isinstance(value, torch.Tensor) or (optional and value is None):
        return value
    raise TypeError(f"torchext.{op}: expected {name} to be a Tensor{' or None' if optional else ''}, "
                    f"but got {type(value).__name__}")


def integer(op, name, value):
    """value must be an int (not a bool or a float, as native's argument parser)."""
    if isinstance(value, _INT_TYPES) and not isinstance(value, bool):
        return value
    raise TypeError(f"torchext.{op}: expected {name} to be an int, but got {type(value).__name__}")


def real(op, name, value):
    """value must be a real number (int or float, not a bool)."""
    if isinstance(value, (int, float, torch.SymInt, torch.SymFloat)) and not isinstance(value, bool):
        return value
    raise TypeError(f"torchext.{op}: expected {name} to be a float, but got {type(value).__name__}")


def boolean(op, name, value):
    if isinstance(value, bool):
        return value
    raise TypeError(f"torchext.{op}: expected {name} to be a bool, but got {type(value).__name__}")


def int_pair(op, name, value):
    """An int or a sequence of 1 or 2 ints as [h, w]; a sequence of another length raises
    RuntimeError, a non-int TypeError."""
    if isinstance(value, _INT_TYPES) and not isinstance(value, bool):
        return [value, value]
    if not isinstance(value, (tuple, list, torch.Size)):
        raise TypeError(f"torchext.{op}: expected {name} to be an int or a tuple of ints, "
                        f"but got {type(value).__name__}")
    values = [integer(op, name, v) for v in value]
    if len(values) == 1:
        return values * 2
    if len(values) != 2:
        raise RuntimeError(f"torchext.{op}: expected {name} to be an int or 2 ints but got {name}={values}")
    return values


def same_device(op, named, cpu_scalars=False):
    """Every tensor in `named` ((name, tensor or None) pairs) on one device; with cpu_scalars, a
    0-dim CPU tensor goes with any device (as native's elementwise ops allow). Fakes call this:
    the dispatcher picks the meta kernel as soon as one argument is on 'meta'."""
    first = None
    for name, t in named:
        if t is None or (cpu_scalars and t.dim() == 0 and t.device.type == "cpu"):
            continue
        if first is None:
            first = (name, t)
        elif t.device != first[1].device:
            raise RuntimeError(f"torchext.{op}: expected {first[0]} and {name} on the same device, but "
                               f"{first[0]} is on {first[1].device} and {name} is on {t.device}")
