"""View ops: transpose and flatten, with torch's argument rules and errors. They compute nothing,
so they are ATen's own views (reshape copies where the strides do not allow a view), recorded by
autograd as native views: an in-place op on the result afterwards (e.g. an in-place activation
after flatten) has native's view semantics, which a view returned from an autograd.Function
forbids."""
from . import arguments


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
    return input.transpose(wrap_dim("transpose", dim0, ndim, "dim0"),
                           wrap_dim("transpose", dim1, ndim, "dim1"))


def t(input):
    """torch.t: transposes a 2-D tensor; 0-D and 1-D tensors come back as they are (as views)."""
    arguments.tensor("t", "input", input)
    if input.dim() > 2:
        raise RuntimeError(f"torchext.t: expects a tensor with <= 2 dimensions, but self is {input.dim()}D")
    return input.transpose(0, 1 if input.dim() == 2 else 0)


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
        return input.reshape(1)
    if start == end:
        return input
    merged = 1
    for size in input.shape[start:end + 1]:
        merged *= size
    return input.reshape(*input.shape[:start], merged, *input.shape[end + 1:])
