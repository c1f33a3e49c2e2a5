"""The base of every torchext autograd Function: torch.func-ready (forward without ctx plus
setup_context, so vmap, grad, jacrev, vjp and functional_call transform it), with vmap generated
from the forward and backward (which then call the ops with batched tensors: functions/batching.py
gives each op its batching rule). A Function without a jvp of its own raises a named error under
forward-mode AD (torch.func.jvp, jacfwd, torch.autograd.forward_ad)."""
import re

import torch

from . import batching  # noqa: F401  (registers every op's vmap rule)


def _op_name(cls):
    """MaxPool2dBackward -> max_pool2d_backward: the name errors give (a class's `op` overrides)."""
    return cls.__dict__.get("op") or re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "_", cls.__name__).lower()


class Function(torch.autograd.Function):
    generate_vmap_rule = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        if "jvp" not in cls.__dict__:
            name = _op_name(cls)

            def jvp(ctx, *tangents):
                raise RuntimeError(f"torchext.{name}: forward-mode AD (torch.func.jvp, jacfwd, "
                                   "torch.autograd.forward_ad) is not supported")
            cls.jvp = staticmethod(jvp)


class InplaceFunction(Function):
    """A Function that writes into its input (mark_dirty), which vmap's generated rule cannot
    follow: its vmap runs the Function itself on the unwrapped tensors (the write lands in the
    batched input's storage) and returns the input, batched as it was."""
    generate_vmap_rule = False
    dirty = 0  # the position of the argument written (and returned first)

    @classmethod
    def vmap(cls, info, in_dims, *args):
        out = cls.apply(*args)
        if not isinstance(out, tuple):
            return out, in_dims[cls.dirty]
        return out, (in_dims[cls.dirty], *cls.other_out_dims(in_dims))

    @staticmethod
    def other_out_dims(in_dims):
        return ()


def save(ctx, *tensors):
    """save_for_backward, and the same tensors for the jvp (one list, so vmap's record of their
    batch dims serves both)."""
    ctx.save_for_backward(*tensors)
    ctx.save_for_forward(*tensors)


def sum_tangents(*tangents):
    """The sum of the given tangents (None: a zero tangent), on our add; None when all are."""
    from .elementwise import add  # elementwise's Functions derive from this module's
    given = [t for t in tangents if t is not None]
    total = given[0] if given else None
    for t in given[1:]:
        total = add(total, t)
    return total


def bilinear_jvp(op, input, weight, input_t, weight_t, bias_t):
    """The tangent of op(input, weight, bias), linear in each argument: op(input_t, weight, bias_t)
    + op(input, weight_t, None) (a zero input_t stands in when only bias_t is given)."""
    from .elementwise import add
    if input_t is None and weight_t is None:
        input_t = input.new_zeros(input.shape)
    terms = []
    if input_t is not None:
        terms.append(op(input_t, weight, bias_t))
    if weight_t is not None:
        terms.append(op(input, weight_t, bias_t if input_t is None else None))
    return terms[0] if len(terms) == 1 else add(*terms)
