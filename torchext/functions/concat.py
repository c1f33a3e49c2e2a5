"""cat: the fake kernel, the autograd Function and torch.cat's signature. The gradient of each
input is its slice of the output's gradient (a view, no copy); the slices' own backward is cat
again, so cat is differentiable to any order."""
import torch
from torch._prims_common import suggest_memory_format

from .._library import ops
from . import arguments
from .backward_call import backward_call


def _skipped(t):
    """A legacy 1-D empty tensor, which native's cat skips whatever the others' shapes."""
    return t.dim() == 1 and t.shape[0] == 0


def _cat_dim(tensors, dim):
    """dim wrapped against the first tensor cat does not skip (None when it skips them all)."""
    ref = next((t for t in tensors if not _skipped(t)), None)
    if ref is None:
        return None
    if not -ref.dim() <= dim < ref.dim():
        raise IndexError(f"torchext.cat: dimension out of range (expected to be in range of "
                         f"[{-ref.dim()}, {ref.dim() - 1}], but got {dim})")
    return dim % ref.dim()


@torch.library.register_fake("torchext::cat")
def _cat_fake(tensors, dim=0):
    torch._check(len(tensors) > 0, lambda: "torchext.cat: expected a non-empty list of Tensors")
    arguments.same_device("cat", [(f"tensors[{i}]", t) for i, t in enumerate(tensors)])
    for i, t in enumerate(tensors):
        torch._check(t.dim() > 0, lambda: f"torchext.cat: zero-dimensional tensor (at position {i}) cannot be "
                     "concatenated")
    dtype = tensors[0].dtype
    for t in tensors[1:]:
        dtype = torch.promote_types(dtype, t.dtype)
    formats = {suggest_memory_format(t) for t in tensors}
    wrapped = _cat_dim(tensors, dim)
    if wrapped is None:
        return tensors[0].new_empty((0,), dtype=dtype)
    kept = [t for t in tensors if not _skipped(t)]
    shape = list(kept[0].shape)
    shape[wrapped] = sum(t.shape[wrapped] for t in kept)
    fmt = formats.pop() if len(formats) == 1 else torch.contiguous_format
    return torch.empty(shape, dtype=dtype, device=tensors[0].device, memory_format=fmt)


def _slices(grad, dim, sizes):
    """grad's slice along dim for each input (an empty tensor for a skipped one), all the views
    made by one split call (DenseNet joins up to 32 tensors: one narrow each cost more than the
    forward's copy)."""
    kept = [size for size in sizes if size is not None]
    parts = iter(grad.split_with_sizes(kept, dim) if kept else ())
    return tuple(grad.new_empty((0,)) if size is None else next(parts) for size in sizes)


class CatBackward(torch.autograd.Function):
    """The gradient's slices (views); their gradients concatenate back."""

    @staticmethod
    def forward(ctx, grad, dim, sizes):
        ctx.dim = dim
        return _slices(grad, dim, sizes)

    @staticmethod
    def backward(ctx, *grads):
        return Cat.apply(ctx.dim, *grads), None, None


class Cat(torch.autograd.Function):
    @staticmethod
    def forward(ctx, dim, *tensors):
        out = ops.cat(list(tensors), dim)  # validates first, with the kernel's messages
        ctx.dim = _cat_dim(tensors, dim)
        ctx.sizes = [None if _skipped(t) else t.shape[ctx.dim] for t in tensors]
        return out

    @staticmethod
    def backward(ctx, grad):
        if ctx.dim is None:  # only legacy empty tensors: empty gradients
            return None, *_slices(grad, 0, ctx.sizes)
        return None, *backward_call(CatBackward, _slices)(grad, ctx.dim, ctx.sizes)


def cat(tensors, dim=0):
    """torch.cat: tensors joined along dim (every size but dim's must match; legacy 1-D empty
    tensors are skipped; float32 and float64 promote; the inputs' common memory format is kept)."""
    if isinstance(tensors, torch.Tensor) or not isinstance(tensors, (tuple, list)):
        raise TypeError(f"torchext.cat: expected tensors to be a sequence of Tensors, but got "
                        f"{type(tensors).__name__}")
    if not tensors:
        raise ValueError("torchext.cat: expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        arguments.tensor("cat", f"tensors[{i}]", t)
    return Cat.apply(arguments.integer("cat", "dim", dim), *tensors)
