"""scaled_dot_product_attention as one fused op (online softmax over key blocks, the backward
recomputing the probabilities from the saved logsumexp): fake kernels, the autograd Function and
torch.nn.functional.scaled_dot_product_attention."""
import torch

from .._library import ops
from .backward_call import backward_call
from .backward_only import not_differentiable_again
from .function import Function
from . import arguments

_OP = "scaled_dot_product_attention"


def _lse_dtype(query):
    """CPU: query's dtype; CUDA: the accumulate type (float32 for float16/bfloat16)."""
    if query.device.type == "cuda" and query.dtype in (torch.float16, torch.bfloat16):
        return torch.float32
    return query.dtype


def _check_shapes(op, query, key, value):
    torch._check(query.dim() >= 2 and key.dim() == query.dim() and value.dim() == query.dim(),
                 lambda: f"torchext.{op}: expected query, key and value of one rank, at least 2, but got "
                         f"{tuple(query.shape)}, {tuple(key.shape)} and {tuple(value.shape)}")
    torch._check(key.shape[-1] == query.shape[-1] and value.shape[-2] == key.shape[-2],
                 lambda: f"torchext.{op}: expected key (..., S, E) and value (..., S, Ev) for query (..., L, E) "
                         f"but got {tuple(query.shape)}, {tuple(key.shape)} and {tuple(value.shape)}")


@torch.library.register_fake("torchext::scaled_dot_product_attention")
def _attention_fake(query, key, value, attn_mask, is_causal, scale, enable_gqa):
    arguments.same_device(_OP, [("query", query), ("key", key), ("value", value), ("attn_mask", attn_mask)])
    _check_shapes(_OP, query, key, value)
    lead = tuple(query.shape[:-1])
    return query.new_empty(lead + (value.shape[-1],)), query.new_empty(lead, dtype=_lse_dtype(query))


@torch.library.register_fake("torchext::scaled_dot_product_attention_backward")
def _attention_backward_fake(grad_out, query, key, value, attn_mask, out, lse, is_causal, scale, enable_gqa,
                             mask_grad):
    op = _OP + "_backward"
    arguments.same_device(op, [("grad_out", grad_out), ("query", query), ("key", key), ("value", value),
                               ("attn_mask", attn_mask), ("out", out), ("lse", lse)])
    _check_shapes(op, query, key, value)
    torch._check(grad_out.shape == out.shape, lambda: f"torchext.{op}: grad_out and out shapes differ")
    dmask = query.new_empty(tuple(query.shape[:-1]) + (key.shape[-2],)) if mask_grad else None
    return query.new_empty(query.shape), key.new_empty(key.shape), value.new_empty(value.shape), dmask


AttentionBackward = not_differentiable_again(_OP, ops.scaled_dot_product_attention_backward.default)


def _sum_to(grad, shape):
    """grad (the broadcast shape) summed to `shape` (the mask's)."""
    lead = grad.dim() - len(shape)
    if lead:
        grad = ops.sum.default(grad, list(range(lead)), False, None)
    ones = [d for d, s in enumerate(shape) if s == 1 and grad.shape[d] != 1]
    return ops.sum.default(grad, ones, True, None) if ones else grad


class ScaledDotProductAttention(Function):
    """Returns (output, logsumexp of each query's scores): the backward reads the latter, so it is
    a non-differentiable output (torch.func saves no intermediates)."""

    @staticmethod
    def forward(query, key, value, attn_mask, is_causal, scale, enable_gqa):
        return ops.scaled_dot_product_attention.default(query, key, value, attn_mask, is_causal, scale,
                                                        enable_gqa)

    @staticmethod
    def setup_context(ctx, inputs, output):
        query, key, value, attn_mask, is_causal, scale, enable_gqa = inputs
        out, lse = output
        ctx.mark_non_differentiable(lse)
        ctx.save_for_backward(query, key, value, attn_mask, out, lse)
        ctx.options = (is_causal, scale, enable_gqa)

    @staticmethod
    def backward(ctx, grad, _lse):
        if not any(ctx.needs_input_grad[:4]):
            return (None,) * 7
        query, key, value, attn_mask, out, lse = ctx.saved_tensors
        mask_grad = ctx.needs_input_grad[3]
        backward = backward_call(AttentionBackward, ops.scaled_dot_product_attention_backward.default)
        dq, dk, dv, dmask = backward(grad, query, key, value, attn_mask, out, lse, *ctx.options, mask_grad)
        if mask_grad:
            dmask = _sum_to(dmask, attn_mask.shape)
        return dq, dk, dv, dmask, None, None, None


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False):
    """torch.nn.functional.scaled_dot_product_attention. dropout_p > 0 raises NotImplementedError:
    native's dropout mask inside attention cannot be reproduced, and torchext draws no other."""
    for name, t in (("query", query), ("key", key), ("value", value)):
        arguments.tensor(_OP, name, t)
    arguments.tensor(_OP, "attn_mask", attn_mask, optional=True)
    arguments.real(_OP, "dropout_p", dropout_p)
    arguments.boolean(_OP, "is_causal", is_causal)
    arguments.boolean(_OP, "enable_gqa", enable_gqa)
    if scale is not None:
        scale = float(arguments.real(_OP, "scale", scale))
    if dropout_p != 0.0:
        raise NotImplementedError(f"torchext.{_OP}: dropout_p > 0 is not supported (got dropout_p={dropout_p}): "
                                  "native's attention dropout mask cannot be reproduced")
    return ScaledDotProductAttention.apply(query, key, value, attn_mask, is_causal, scale, enable_gqa)[0]
