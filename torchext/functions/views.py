"""View ops: transpose and reshape (flatten), as autograd Functions whose backward is the
inverse view, so they are differentiable to any order. They compute nothing: the forward is the
ATen view itself (a copy only where reshape must make one)."""
import torch

from . import arguments


class Transpose(torch.autograd.Function):
    """Swaps two dims; its gradient is swapped back."""

    @staticmethod
    def forward(ctx, x, dim0, dim1):
        ctx.dims = (dim0, dim1)
        return x.transpose(dim0, dim1)

    @staticmethod
    def backward(ctx, grad):
        return Transpose.apply(grad, *ctx.dims), None, None


class Reshape(torch.autograd.Function):
    """A view with a new shape (a copy where the strides do not allow a view); its gradient is
    reshaped back."""

    @staticmethod
    def forward(ctx, x, shape):
        ctx.in_shape = x.shape
        return x.reshape(shape)

    @staticmethod
    def backward(ctx, grad):
        return Reshape.apply(grad, ctx.in_shape), None


def wrap_dim(op, dim, ndim, name="dim"):
    """dim in [-ndim, ndim) as a non-negative index (a 0-dim tensor accepts 0 and -1), raising
    IndexError as native does."""
    arguments.integer(op, name, dim)
    size = max(ndim, 1)
    if not -size <= dim < size:
        raise IndexError(f"torchext.{op}: dimension out of range (expected to be in range of "
                         f"[{-size}, {size - 1}], but got {dim})")
    return dim % size


def transpose(input, dim0, dim1):
    """torch.transpose (a view)."""
    arguments.tensor("transpose", "input", input)
    ndim = input.dim()
    return Transpose.apply(input, wrap_dim("transpose", dim0, ndim, "dim0"),
                           wrap_dim("transpose", dim1, ndim, "dim1"))


def t(input):
    """torch.t: transposes a 2-D tensor; 0-D and 1-D tensors come back as they are (as views)."""
    arguments.tensor("t", "input", input)
    if input.dim() > 2:
        raise RuntimeError(f"torchext.t: expects a tensor with <= 2 dimensions, but self is {input.dim()}D")
    return Transpose.apply(input, 0, 1 if input.dim() == 2 else 0)


def flatten(input, start_dim=0, end_dim=-1):
    """torch.flatten: merges dims start_dim..end_dim (a view where the strides allow, else a copy);
    returns input itself when there is nothing to merge, and a 0-D tensor as shape (1,)."""
    arguments.tensor("flatten", "input", input)
    ndim = input.dim()
    start = wrap_dim("flatten", start_dim, ndim, "start_dim")
    end = wrap_dim("flatten", end_dim, ndim, "end_dim")
    if start > end:
        raise RuntimeError("torchext.flatten: start_dim cannot come after end_dim")
    if ndim == 0:
        return Reshape.apply(input, (1,))
    if start == end:
        return input
    merged = 1
    for size in input.shape[start:end + 1]:
        merged *= size
    return Reshape.apply(input, (*input.shape[:start], merged, *input.shape[end + 1:]))
