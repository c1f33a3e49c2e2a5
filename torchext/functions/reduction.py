"""sum and mean, with expand as their adjoint: the backward of sum (mean) expands the gradient back
(and divides it by the count), the backward of expand sums it, so all are differentiable to any
order. sum_to_size reduces a broadcast gradient to an input's shape (for every broadcasting op's
backward)."""
import math

import torch

from .._library import ops
from . import arguments
from .function import Function


def _reduced_dims(ndim, dim):
    """The dims a sum over `dim` reduces: all of them for None or an empty list, as torch.sum."""
    if not dim:
        return set(range(ndim))
    return {d % ndim for d in dim} if ndim else set()


@torch.library.register_fake("torchext::sum")
def _sum_fake(self, dim=None, keepdim=False, dtype=None):
    reduced = _reduced_dims(self.dim(), dim)
    shape = [1 if d in reduced else s for d, s in enumerate(self.shape) if keepdim or d not in reduced]
    return self.new_empty(shape, dtype=dtype or self.dtype)


def _keepdim_context(ctx, x, dim):
    reduced = _reduced_dims(x.dim(), dim)
    ctx.in_shape = x.shape
    ctx.keepdim_shape = [1 if d in reduced else s for d, s in enumerate(x.shape)]
    return reduced


class Sum(Function):
    @staticmethod
    def forward(x, dim, keepdim, dtype):
        return ops.sum(x, dim, keepdim, dtype)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, dim, *ctx.options = inputs
        ctx.dim = dim
        _keepdim_context(ctx, x, dim)

    @staticmethod
    def backward(ctx, grad):
        grad = grad.reshape(ctx.keepdim_shape)  # restore the reduced dims as size 1
        return Expand.apply(grad, ctx.in_shape), None, None, None


@torch.library.register_fake("torchext::mean")
def _mean_fake(self, dim=None, keepdim=False, dtype=None):
    return _sum_fake(self, dim, keepdim, dtype)


class Mean(Function):
    @staticmethod
    def forward(x, dim, keepdim, dtype):
        return ops.mean(x, dim, keepdim, dtype)

    @staticmethod
    def setup_context(ctx, inputs, output):
        x, dim, *ctx.options = inputs
        ctx.dim = dim
        ctx.count = math.prod(x.shape[d] for d in _keepdim_context(ctx, x, dim))

    @staticmethod
    def backward(ctx, grad):
        from .elementwise import DivScalar  # elementwise imports this module (sum_to_size)
        # Divided before the expand: the same values as native's expand-then-divide, computed
        # once per output instead of once per input element.
        grad = DivScalar.apply(grad.reshape(ctx.keepdim_shape), ctx.count)
        return Expand.apply(grad, ctx.in_shape), None, None, None


class Expand(Function):
    """Broadcast view to a larger shape; its gradient sums over the broadcast dims."""

    @staticmethod
    def forward(x, shape):
        return x.expand(shape)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.in_shape = inputs[0].shape
        ctx.shape = inputs[1]

    @staticmethod
    def backward(ctx, grad):
        return sum_to_size(grad, ctx.in_shape), None


def sum_to_size(grad, shape):
    """Reduces a gradient of a broadcast result to `shape`, the shape of the operand that was
    broadcast: sums over the leading dims grad has in excess and over the dims where shape has
    size 1, on our sum op (differentiable)."""
    shape = tuple(shape)
    if tuple(grad.shape) == shape:
        return grad
    lead = grad.dim() - len(shape)
    dims = list(range(lead)) + [lead + i for i, s in enumerate(shape) if s == 1 and grad.shape[lead + i] != 1]
    if dims:
        grad = Sum.apply(grad, dims, True, None)
    return grad.reshape(shape) if tuple(grad.shape) != shape else grad


def _reduction_args(op, input, dim, keepdim, dtype):
    arguments.tensor(op, "input", input)
    if isinstance(dim, (tuple, list)):
        dim = [arguments.integer(op, "dim", d) for d in dim]
    elif dim is not None:
        dim = [arguments.integer(op, "dim", dim)]
    arguments.boolean(op, "keepdim", keepdim)
    if dtype is not None and not isinstance(dtype, torch.dtype):
        raise TypeError(f"torchext.{op}: expected dtype to be a torch.dtype, but got {type(dtype).__name__}")
    return dim


def sum(input, dim=None, keepdim=False, *, dtype=None):
    """torch.sum: over every element (dim None or empty) or over the dims in `dim`."""
    return Sum.apply(input, _reduction_args("sum", input, dim, keepdim, dtype), keepdim, dtype)


def mean(input, dim=None, keepdim=False, *, dtype=None):
    """torch.mean: the sum over every element (dim None or empty) or over the dims in `dim`,
    divided by their count (an empty mean is NaN)."""
    return Mean.apply(input, _reduction_args("mean", input, dim, keepdim, dtype), keepdim, dtype)
