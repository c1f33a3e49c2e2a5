"""The pointwise activations (sigmoid, silu, hardtanh/relu6, hardswish, hardsigmoid, gelu): fake
kernels and autograd Functions, one generic set driven by a spec per op (its torch.ops and what its
backward reads), as the kernels are one template per functor (extension/pointwise_functors.h)."""
import dataclasses
from typing import Callable, Optional

import torch
from torch._prims_common import is_non_overlapping_and_dense_or_false as is_non_overlapping_and_dense

from .._library import ops
from .arguments import same_device
from .backward_only import not_differentiable_again
from .function import Function, InplaceFunction


# ---------------------------------------------------------------- fakes

def _like(*tensors):
    """The kernels' output: the operands' strides where every one is dense with the same strides,
    else contiguous."""
    first = tensors[0]
    if is_non_overlapping_and_dense(first) and all(t.stride() == first.stride() for t in tensors[1:]):
        return torch.empty_like(first)
    return first.new_empty(first.shape)


def _operands(op, names, tensors):
    same_device(op, list(zip(names, tensors)))
    for name, t in zip(names, tensors):
        torch._check(t.shape == tensors[-1].shape, lambda: f"torchext.{op}: {name} of another shape")
        torch._check(t.dtype == tensors[-1].dtype, lambda: f"torchext.{op}: {name} of another dtype")
    return _like(*tensors)


def _register_fakes(name, saved, inplace, keep, second_order):
    """Fakes of `name`'s ops (saved: the name of the tensor its backward reads)."""
    torch.library.register_fake(f"torchext::{name}")(lambda self, *args: _like(self))
    torch.library.register_fake(f"torchext::{name}_backward")(
        lambda grad, s, *args: _operands(f"{name}_backward", ("grad_output", saved), (grad, s)))
    if second_order:
        torch.library.register_fake(f"torchext::{name}_double_backward")(
            lambda gg, grad, s, *args: _operands(f"{name}_double_backward",
                                                 ("grad_grad", "grad_output", saved), (gg, grad, s)))
    if keep:
        torch.library.register_fake(f"torchext::{name}_")(
            lambda self, keep_input: _like(self) if keep_input else self.new_empty((0,)))
    elif inplace:
        torch.library.register_fake(f"torchext::{name}_")(lambda self, *args: None)


_register_fakes("sigmoid", "output", inplace=True, keep=False, second_order=True)
_register_fakes("silu", "self", inplace=True, keep=True, second_order=True)
_register_fakes("hardtanh", "self", inplace=True, keep=False, second_order=False)
_register_fakes("hardswish", "self", inplace=True, keep=True, second_order=True)
_register_fakes("hardsigmoid", "self", inplace=True, keep=True, second_order=False)
_register_fakes("gelu", "self", inplace=False, keep=False, second_order=True)


# ---------------------------------------------------------------- Functions

@dataclasses.dataclass(frozen=True)
class Spec:
    """One activation's ops. saves_output: its backward reads the output (else the input). keeps:
    its in-place op returns the input it overwrote (for a backward that needs it).
    double_backward: the op for the second derivative, None where it is zero (hardtanh,
    hardsigmoid: piecewise linear)."""
    name: str
    forward: Callable
    backward: Callable
    inplace: Optional[Callable] = None
    double_backward: Optional[Callable] = None
    saves_output: bool = False
    keeps: bool = False


def _gradient(spec, grad, saved, args):
    """spec's backward op, as a graph node under create_graph."""
    if torch.is_grad_enabled():
        return Backward.apply(spec, args, grad, saved)
    return spec.backward(grad, saved, *args)


class Backward(Function):
    """grad times the derivative at saved; linear in grad, and its derivative w.r.t. saved is the
    double_backward op (not differentiable again), or zero where the op has none."""

    @staticmethod
    def forward(spec, args, grad, saved):
        return spec.backward(grad, saved, *args)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.spec, ctx.args, grad, saved = inputs
        ctx.save_for_backward(grad, saved)

    @staticmethod
    def backward(ctx, grad_grad):
        grad, saved = ctx.saved_tensors
        spec, args = ctx.spec, ctx.args
        d_grad = _gradient(spec, grad_grad, saved, args) if ctx.needs_input_grad[2] else None
        d_saved = None
        if ctx.needs_input_grad[3] and spec.double_backward is not None:
            d_saved = _DOUBLE_BACKWARD[spec.name](grad_grad, grad, saved, *args)
        return None, None, d_grad, d_saved


class Forward(Function):
    @staticmethod
    def forward(spec, args, x):
        return spec.forward(x, *args)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.spec, ctx.args, x = inputs
        ctx.save_for_backward(output if ctx.spec.saves_output else x)

    @staticmethod
    def backward(ctx, grad):
        (saved,) = ctx.saved_tensors
        return None, None, _gradient(ctx.spec, grad, saved, ctx.args)


class Inplace(InplaceFunction):
    """x = op(x) in place, for ops whose backward reads the output (sigmoid; hardtanh, whose mask is
    the same on its output, as native's hardtanh_)."""
    dirty = 2

    @staticmethod
    def forward(spec, args, x):
        spec.inplace(x, *args)
        return x

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.spec, ctx.args, _ = inputs
        ctx.mark_dirty(output)
        ctx.save_for_backward(output)

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return None, None, _gradient(ctx.spec, grad, out, ctx.args)


# In place for ops whose backward needs the input: the kernel overwrites x and returns its old
# values (one pass). Autograd sees two nodes, as native's in-place ops with their clone of the
# input: KeepInput, x -> kept (the identity), and InplaceFromKept, kept -> x = op(kept), which
# saves kept; a second derivative reaching kept flows back to x's history through KeepInput.
class KeepInput(Function):
    @staticmethod
    def forward(spec, args, x):
        return spec.inplace(x, *args, True)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.spec = inputs[0]

    @staticmethod
    def backward(ctx, grad):
        return None, None, grad


class InplaceFromKept(InplaceFunction):
    dirty = 2

    @classmethod
    def vmap(cls, info, in_dims, spec, args, x, kept):
        """kept's batch dim where x has it, so that the backward reads them alike."""
        if in_dims[2] is not None and in_dims[3] is not None:
            kept = kept.movedim(in_dims[3], in_dims[2])
        return cls.apply(spec, args, x, kept), in_dims[2]
    @staticmethod
    def forward(spec, args, x, kept):
        return x

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.spec, ctx.args, _, kept = inputs
        ctx.mark_dirty(output)
        ctx.save_for_backward(kept)

    @staticmethod
    def backward(ctx, grad):
        (kept,) = ctx.saved_tensors
        return None, None, None, _gradient(ctx.spec, grad, kept, ctx.args)


def apply(spec, x, *args):
    return Forward.apply(spec, args, x)


def apply_inplace(spec, x, *args):
    """In place on x; without autograd (no grad needed, no torch.func transform) the kernel alone,
    keeping nothing."""
    if not (torch.is_grad_enabled() and x.requires_grad) and not torch._C._are_functorch_transforms_active():
        if spec.keeps:
            spec.inplace(x, *args, False)
        else:
            spec.inplace(x, *args)
        return x
    if spec.keeps:
        return InplaceFromKept.apply(spec, args, x, KeepInput.apply(spec, args, x))
    return Inplace.apply(spec, args, x)


SIGMOID = Spec("sigmoid", ops.sigmoid.default, ops.sigmoid_backward.default, ops.sigmoid_.default,
               ops.sigmoid_double_backward.default, saves_output=True)
SILU = Spec("silu", ops.silu.default, ops.silu_backward.default, ops.silu_.default,
            ops.silu_double_backward.default, keeps=True)
HARDTANH = Spec("hardtanh", ops.hardtanh.default, ops.hardtanh_backward.default, ops.hardtanh_.default)
HARDSWISH = Spec("hardswish", ops.hardswish.default, ops.hardswish_backward.default,
                 ops.hardswish_.default, ops.hardswish_double_backward.default, keeps=True)
HARDSIGMOID = Spec("hardsigmoid", ops.hardsigmoid.default, ops.hardsigmoid_backward.default,
                   ops.hardsigmoid_.default, keeps=True)
GELU = Spec("gelu", ops.gelu.default, ops.gelu_backward.default,
            double_backward=ops.gelu_double_backward.default)

_DOUBLE_BACKWARD = {
    spec.name: not_differentiable_again(f"{spec.name}_double_backward", spec.double_backward).apply
    for spec in (SIGMOID, SILU, HARDSWISH, GELU)
}
