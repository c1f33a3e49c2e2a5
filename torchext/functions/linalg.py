"""matmul, with torch.matmul's semantics (vector, matrix and broadcast batched products). Its
backward is made of matmuls, so it is differentiable to any order."""
import math

import torch

from .._library import ops
from . import arguments
from .function import Function


def _batch_shape(op, a_batch, b_batch, self_shape, other_shape):
    """Broadcast of the two batch shapes (numpy rules)."""
    nd = max(len(a_batch), len(b_batch))
    a_pad = (1,) * (nd - len(a_batch)) + tuple(a_batch)
    b_pad = (1,) * (nd - len(b_batch)) + tuple(b_batch)
    out = []
    for d, (sa, sb) in enumerate(zip(a_pad, b_pad)):
        torch._check(sa == sb or sa == 1 or sb == 1, lambda: (
            f"{op}: batch dimensions of self (shape {list(self_shape)}) and other (shape "
            f"{list(other_shape)}) cannot be broadcast: sizes {sa} and {sb} at batch dimension {d}"))
        out.append(sb if sa == 1 else sa)
    return out


@torch.library.register_fake("torchext::matmul")
def _matmul_fake(self, other):
    op = "torchext.matmul"
    arguments.same_device("matmul", [("self", self), ("other", other)])
    torch._check(self.dtype == other.dtype, lambda: (
        f"{op}: expected self and other to have the same dtype, but got {self.dtype} and {other.dtype}"))
    torch._check(self.dim() >= 1 and other.dim() >= 1, lambda: (
        f"{op}: both arguments need to be at least 1-D, but self is {self.dim()}-D and other is "
        f"{other.dim()}-D"))
    a_shape = self.shape if self.dim() >= 2 else (1, *self.shape)
    b_shape = other.shape if other.dim() >= 2 else (*other.shape, 1)
    torch._check(a_shape[-1] == b_shape[-2], lambda: (
        f"{op}: size mismatch, cannot multiply self of shape {list(self.shape)} by other of shape "
        f"{list(other.shape)} ({a_shape[-1]} != {b_shape[-2]} along the contracted dimension)"))
    shape = _batch_shape(op, a_shape[:-2], b_shape[:-2], self.shape, other.shape)
    if self.dim() >= 2:
        shape.append(a_shape[-2])
    if other.dim() >= 2:
        shape.append(b_shape[-1])
    return self.new_empty(shape)


def _summed_product(x, y, summed):
    """sum over the batch dims `summed` of x @ y, for x (..., r, s) and y (..., s, t) with the same
    number of batch dims (size 1 where broadcast; both full size along `summed`). The summed dims
    are folded into the contraction: x becomes (..., r, |summed| * s), y (..., |summed| * s, t),
    so the reduction happens inside the GEMM and stays differentiable."""
    nb = x.dim() - 2
    kept = [d for d in range(nb) if d not in summed]
    folded = math.prod([x.shape[d] for d in summed]) * x.shape[-1]
    x = x.permute(*kept, nb, *summed, nb + 1)
    y = y.permute(*kept, *summed, nb, nb + 1)
    x = x.reshape(*x.shape[:len(kept)], x.shape[len(kept)], folded)
    y = y.reshape(*y.shape[:len(kept)], folded, y.shape[-1])
    return Matmul.apply(x, y)


def _padded(t, nb):
    """t (..., r, c) with its batch dims left-padded with size-1 dims to nb of them."""
    return t.reshape((1,) * (nb - (t.dim() - 2)) + tuple(t.shape))


class Matmul(Function):
    """torch.matmul. With self and other seen as batches of matrices A (.., n, m), B (.., m, p)
    (a 1-D self as one row, a 1-D other as one column) and G the gradient of A @ B:
    dA = G @ B^T and dB = A^T @ G, each summed over the batch dims its operand was broadcast in."""

    @staticmethod
    def forward(a, b):
        return ops.matmul(a, b)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        a2 = a.unsqueeze(0) if a.dim() == 1 else a
        b2 = b.unsqueeze(-1) if b.dim() == 1 else b
        g = grad.unsqueeze(-1) if b.dim() == 1 else grad
        g = g.unsqueeze(-2) if a.dim() == 1 else g
        nb = g.dim() - 2
        batch = g.shape[:nb]
        a2, b2 = _padded(a2, nb), _padded(b2, nb)
        ga = gb = None
        if ctx.needs_input_grad[0]:
            summed = [d for d in range(nb) if a2.shape[d] == 1 and batch[d] != 1]
            ga = _summed_product(g, b2.transpose(-1, -2), summed).reshape(a.shape)
        if ctx.needs_input_grad[1]:
            summed = [d for d in range(nb) if b2.shape[d] == 1 and batch[d] != 1]
            gb = _summed_product(a2.transpose(-1, -2), g, summed).reshape(b.shape)
        return ga, gb


def matmul(input, other, *, out=None):
    """torch.matmul."""
    arguments.tensor("matmul", "input", input)
    arguments.tensor("matmul", "other", other)
    if out is None:
        return Matmul.apply(input, other)
    if torch.is_grad_enabled() and (input.requires_grad or other.requires_grad):
        raise RuntimeError("torchext.matmul(): functions with out=... arguments don't support "
                           "automatic differentiation, but one of the arguments requires grad.")
    result = ops.matmul(input, other)
    arguments.tensor("matmul", "out", out)
    if out.dtype != result.dtype or out.device != result.device:
        raise RuntimeError(f"torchext.matmul(): expected out to be a {result.dtype} tensor on "
                           f"{result.device}, but got {out.dtype} on {out.device}")
    return out.resize_(result.shape).copy_(result)
