"""torchext.patch / torchext.unpatch: swap torchext forwards into an existing model, in place.

    model = torchext.patch(model)                          # returns the same model
    model, report = torchext.patch(model, return_report=True)
    torchext.unpatch(model)                                # native classes back, exactly

patch walks every submodule and switches the class of each one it supports to its torchext
mirror (torchext.nn.Conv2d, BatchNorm2d, ReLU, MaxPool2d, AdaptiveAvgPool2d, Linear, Flatten,
BatchNorm1d, LayerNorm, Dropout, StochasticDepth;
torchvision's ResNet, BasicBlock and Bottleneck via torchext.resnet). Only the class changes:
the Parameter and buffer objects, state_dict keys, hooks, training flag, device and dtype are
the module's own, so an optimizer built before patching keeps working, and .to(), train(),
eval(), deepcopy and pickling behave as before.

What stays native: supported types in a configuration torchext does not compute (e.g. Conv2d
with padding_mode='reflect'), subclasses of supported types that torchext does not know, and
leaf modules of other types. They are named, with the reason, in one warnings.warn per call and
in the PatchReport. Python code inside forwards of unknown container modules is not rewritten
(torchext.enable() routes such torch calls).

Patching is idempotent and cheap (one walk over the modules, a class check each), so call it
again after changing the model: a module assigned after patching (`model.fc = nn.Linear(512,
10)`) is native until torchext.patch(model) runs again. A whole patched model pickled with
torch.save(model) needs torchext importable to load (its classes are torchext's); a state_dict
does not.
"""
import collections
import dataclasses
import warnings

from torch import nn

from .optable import module_mirrors

__all__ = ["PatchReport", "patch", "unpatch"]


def _mirrors():
    mirrors = module_mirrors()  # each op's torchext.nn mirrors, from the op table
    try:
        from . import resnet
    except ImportError:  # torchvision is not installed: nothing of it to patch
        return mirrors
    return mirrors + [resnet.BasicBlock, resnet.Bottleneck, resnet.ResNet]


_MIRRORS = _mirrors()
_NATIVE_OF = {cls: cls._torchext_native for cls in _MIRRORS}  # torchext class -> native class
_MIRROR_OF = {native: cls for cls, native in _NATIVE_OF.items()}
_OURS = tuple(_MIRRORS)
# Leaf modules that compute nothing, so leaving them native is not worth a warning.
_NOTHING_TO_COMPUTE = (nn.Identity,)


@dataclasses.dataclass
class PatchReport:
    """What torchext.patch did to a model.

    patched: torchext class name -> number of modules that now run on torchext (including those
        already patched by an earlier call).
    native: qualified module name ('' for the root) -> why it stays native.
    """

    patched: dict = dataclasses.field(default_factory=dict)
    native: dict = dataclasses.field(default_factory=dict)

    def __str__(self):
        swapped = ", ".join(f"{n} x{c}" for n, c in sorted(self.patched.items())) or "nothing"
        lines = [f"torchext.patch: {sum(self.patched.values())} modules on torchext ({swapped})"]
        lines += [f"  native: {name or '<root>'}: {why}" for name, why in self.native.items()]
        return "\n".join(lines)


def _unsupported(mirror, module):
    """Why `module` cannot run as `mirror` (None when it can)."""
    check = getattr(mirror, "_torchext_unsupported", None)
    return None if check is None else check(module)


def _native_reason(module):
    """Why a module that is not (and cannot become) a torchext mirror stays native; None for
    containers and modules with nothing to compute."""
    cls = type(module)
    for native in _MIRROR_OF:
        if isinstance(module, native):
            return (f"{cls.__module__}.{cls.__qualname__} is a subclass of {native.__name__} that "
                    "torchext does not know")
    if next(module.children(), None) is None and not isinstance(module, _NOTHING_TO_COMPUTE):
        return f"{cls.__name__} has no torchext version"
    return None


def patch(model, *, return_report=False):
    """Switches every supported submodule of `model` (and `model` itself) to its torchext mirror,
    in place. Returns `model`, or `(model, PatchReport)` when return_report=True."""
    if not isinstance(model, nn.Module):
        raise TypeError(f"torchext.patch expects an nn.Module, got {type(model).__name__}")
    patched = collections.Counter()
    native = {}
    for name, module in model.named_modules():
        cls = type(module)
        mirror = cls if cls in _NATIVE_OF else _MIRROR_OF.get(cls)
        if mirror is not None:
            # Checked on patched modules too: a configuration changed since is switched back.
            reason = _unsupported(mirror, module)
            module.__class__ = mirror if reason is None else _NATIVE_OF[mirror]
            if reason is None:
                patched[mirror.__name__] += 1
            else:
                native[name] = reason
        elif isinstance(module, _OURS):  # the user's own subclass of a torchext module
            patched[cls.__name__] += 1
        else:
            reason = _native_reason(module)
            if reason is not None:
                native[name] = reason
    report = PatchReport(dict(patched), native)
    if native:
        listed = "; ".join(f"{name or '<root>'} ({why})" for name, why in native.items())
        warnings.warn(f"torchext.patch: {len(native)} module(s) stay native: {listed}",
                      stacklevel=2)
    return (model, report) if return_report else model


def unpatch(model):
    """Switches every torchext module in `model` back to the torch class it mirrors (modules
    built directly as torchext.nn classes too; the user's own subclasses are left alone).
    Returns `model`."""
    for module in model.modules():
        native = _NATIVE_OF.get(type(module))
        if native is not None:
            module.__class__ = native
    return model
