"""cat and its inverse split/chunk: the fake kernel, the autograd Functions and torch's signatures.
split returns views of the input's slices and its backward is cat of their gradients; cat's
backward is split of its gradient (views, no copy): each is the other's derivative, so both are
differentiable to any order."""
import torch
from torch._prims_common import suggest_memory_format

from .._library import ops
from . import arguments
from .backward_call import backward_call
from .function import Function


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


def _slices(input, dim, sizes):
    """input's slice along dim for each size (an empty tensor for a None: a skipped input of cat),
    all the views made by one split call (DenseNet joins up to 32 tensors: one narrow each cost
    more than the forward's copy)."""
    kept = [size for size in sizes if size is not None]
    parts = iter(input.split_with_sizes(kept, dim) if kept else ())
    return tuple(input.new_empty((0,)) if size is None else next(parts) for size in sizes)


class Split(Function):
    """input's slices along dim (views, which autograd, as for native's split, lets no in-place op
    modify); their gradients (zeros for an unused slice) concatenate back."""

    @staticmethod
    def forward(input, dim, sizes):
        return _slices(input, dim, sizes)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.dim = inputs[1]

    @staticmethod
    def backward(ctx, *grads):
        return Cat.apply(ctx.dim, *grads), None, None


class Cat(Function):
    @staticmethod
    def forward(dim, *tensors):
        return ops.cat(list(tensors), dim)  # validates first, with the kernel's messages

    @staticmethod
    def setup_context(ctx, inputs, output):
        dim, *tensors = inputs
        ctx.dim = _cat_dim(tensors, dim)
        ctx.sizes = [None if _skipped(t) else t.shape[ctx.dim] for t in tensors]
        ctx.shapes = [t.shape for t in tensors]

    @staticmethod
    def backward(ctx, grad):
        if ctx.dim is None:  # only legacy empty tensors: empty gradients
            return None, *_slices(grad, 0, ctx.sizes)
        return None, *backward_call(Split, _slices)(grad, ctx.dim, ctx.sizes)


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


def _split_dim(op, input, dim):
    arguments.tensor(op, "input", input)
    arguments.integer(op, "dim", dim)
    if input.dim() == 0:
        raise RuntimeError(f"torchext.{op}: expected input to be at least 1-dimensional but got a 0-dim tensor")
    if not -input.dim() <= dim < input.dim():
        raise IndexError(f"torchext.{op}: dimension out of range (expected to be in range of "
                         f"[{-input.dim()}, {input.dim() - 1}], but got {dim})")
    return dim % input.dim()


def _even_sizes(op, length, size):
    """Pieces of `size` along a dim of `length`, the last one shorter (split with an int)."""
    if size < 0:
        raise RuntimeError(f"torchext.{op}: expected split_size to be non-negative, but got {size}")
    if size == 0:
        if length != 0:
            raise RuntimeError(f"torchext.{op}: split_size can only be 0 if the dimension's size is 0, "
                               f"but got a dimension of size {length}")
        return [0]
    return [min(size, length - start) for start in range(0, length, size)] or [0]


def split(tensor, split_size_or_sections, dim=0):
    """torch.split: views of tensor's pieces along dim, each of split_size (the last shorter) or of
    the given sizes (which must add up to the dim's size)."""
    dim = _split_dim("split", tensor, dim)
    length = tensor.shape[dim]
    if isinstance(split_size_or_sections, (list, tuple)):
        sizes = [arguments.integer("split", "split_size_or_sections", s) for s in split_size_or_sections]
        if any(s < 0 for s in sizes):
            raise RuntimeError(f"torchext.split: expected split sizes to be non-negative, but got {sizes}")
        if sum(sizes) != length:
            raise RuntimeError(f"torchext.split: expected split sizes to add up to {length} (the "
                               f"size of dim {dim}), but got {sizes}")
    else:
        sizes = _even_sizes("split", length, arguments.integer("split", "split_size_or_sections",
                                                               split_size_or_sections))
    return Split.apply(tensor, dim, sizes)


def chunk(input, chunks, dim=0):
    """torch.chunk: at most `chunks` views along dim, of ceil(size / chunks) each (the last
    shorter; `chunks` empty ones along an empty dim)."""
    dim = _split_dim("chunk", input, dim)
    chunks = arguments.integer("chunk", "chunks", chunks)
    if chunks <= 0:
        raise RuntimeError(f"torchext.chunk: expected chunks to be greater than 0, but got {chunks}")
    length = input.shape[dim]
    sizes = [0] * chunks if length == 0 else _even_sizes("chunk", length, -(-length // chunks))
    return Split.apply(input, dim, sizes)
