"""Layer normalisation over the trailing `normalized_shape` dims: fake kernels, the autograd
Function and torch.nn.functional.layer_norm."""
import torch

from .._library import ops
from .backward_call import backward_call
from .norm_double_backward import Statistics, double_backward
from . import arguments
from .function import Function


def _stats_dtype(input):
    """mean/rstd: the input's dtype, float32 for float16/bfloat16 (CUDA's accumulate type)."""
    return torch.float32 if input.dtype in (torch.float16, torch.bfloat16) else input.dtype


def _check_shapes(op, input, normalized_shape, weight, bias):
    k = len(normalized_shape)
    torch._check(k >= 1 and input.dim() >= k and tuple(input.shape[input.dim() - k:]) == tuple(normalized_shape),
                 lambda: f"torchext.{op}: expected input's trailing dimensions to be normalized_shape "
                         f"{list(normalized_shape)} but got input of shape {tuple(input.shape)}")
    for name, t in (("weight", weight), ("bias", bias)):
        if t is not None:
            torch._check(tuple(t.shape) == tuple(normalized_shape),
                         lambda: f"torchext.{op}: expected {name} of shape normalized_shape "
                                 f"{list(normalized_shape)} but got {tuple(t.shape)}")


@torch.library.register_fake("torchext::layer_norm")
def _layer_norm_fake(input, normalized_shape, weight, bias, eps):
    arguments.same_device("layer_norm", [("input", input), ("weight", weight), ("bias", bias)])
    _check_shapes("layer_norm", input, normalized_shape, weight, bias)
    stat_shape = tuple(input.shape[:input.dim() - len(normalized_shape)]) + (1,) * len(normalized_shape)
    dtype = _stats_dtype(input)
    return (input.new_empty(input.shape), input.new_empty(stat_shape, dtype=dtype),
            input.new_empty(stat_shape, dtype=dtype))


@torch.library.register_fake("torchext::layer_norm_backward")
def _layer_norm_backward_fake(grad_output, input, normalized_shape, mean, rstd, weight, output_mask):
    arguments.same_device("layer_norm_backward", [("grad_output", grad_output), ("input", input),
                                                  ("mean", mean), ("rstd", rstd), ("weight", weight)])
    _check_shapes("layer_norm_backward", input, normalized_shape, weight, None)
    torch._check(grad_output.shape == input.shape,
                 lambda: "torchext.layer_norm_backward: grad_output and input shapes differ")
    return (input.new_empty(input.shape) if output_mask[0] else None,
            input.new_empty(tuple(normalized_shape)) if output_mask[1] else None,
            input.new_empty(tuple(normalized_shape)) if output_mask[2] else None)


class LayerNormBackward(Function):
    """layer_norm's backward op as a graph node (under create_graph); its backward is native's
    layer_norm_double_backward on our ops (norm_double_backward), statistics over the rows."""

    @staticmethod
    def forward(grad, input, normalized_shape, mean, rstd, weight, mask):
        return ops.layer_norm_backward.default(grad, input, normalized_shape, mean, rstd, weight, mask)

    @staticmethod
    def setup_context(ctx, inputs, output):
        grad, input, normalized_shape, mean, rstd, weight, _ = inputs
        ctx.normalized_shape = normalized_shape
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(grad, input, mean, rstd, weight)

    @staticmethod
    def backward(ctx, gg_input, gg_weight, gg_bias):
        grad, input, mean, rstd, weight = ctx.saved_tensors
        lead = input.dim() - len(ctx.normalized_shape)
        stats = Statistics(input, mean, rstd, list(range(lead, input.dim())),
                           differentiable=torch.is_grad_enabled())
        needs = ctx.needs_input_grad
        d_grad, d_input, d_weight = double_backward(
            stats, grad, weight, (gg_input, gg_weight, gg_bias), tuple(ctx.normalized_shape), list(range(lead)),
            (needs[0], needs[1], needs[5]))
        return d_grad, d_input, None, None, None, d_weight, None


class LayerNorm(Function):
    """Returns (output, mean, rstd): the statistics, for the backward, are not differentiable."""

    @staticmethod
    def forward(input, normalized_shape, weight, bias, eps):
        return ops.layer_norm.default(input, normalized_shape, weight, bias, eps)

    @staticmethod
    def setup_context(ctx, inputs, output):
        input, ctx.normalized_shape, weight, _, _ = inputs
        _, mean, rstd = output
        ctx.mark_non_differentiable(mean, rstd)
        ctx.save_for_backward(input, weight, mean, rstd)

    @staticmethod
    def backward(ctx, grad, _mean, _rstd):
        mask = [ctx.needs_input_grad[0], ctx.needs_input_grad[2], ctx.needs_input_grad[3]]
        if not any(mask):
            return (None,) * 5
        input, weight, mean, rstd = ctx.saved_tensors
        backward = backward_call(LayerNormBackward, ops.layer_norm_backward.default)
        grad_input, grad_weight, grad_bias = backward(grad, input, ctx.normalized_shape, mean, rstd,
                                                      weight, mask)
        return grad_input, None, grad_weight, grad_bias, None


def layer_norm(input, normalized_shape, weight=None, bias=None, eps=1e-05):
    """torch.nn.functional.layer_norm: normalizes over the trailing dims `normalized_shape` (a
    sequence of ints, as native's; nn.LayerNorm turns an int into one)."""
    arguments.tensor("layer_norm", "input", input)
    arguments.tensor("layer_norm", "weight", weight, optional=True)
    arguments.tensor("layer_norm", "bias", bias, optional=True)
    if not isinstance(normalized_shape, (tuple, list, torch.Size)):
        raise TypeError(f"torchext.layer_norm: expected normalized_shape to be a tuple of ints, but got "
                        f"{type(normalized_shape).__name__}")
    shape = [arguments.integer("layer_norm", "normalized_shape", s) for s in normalized_shape]
    arguments.real("layer_norm", "eps", eps)
    return LayerNorm.apply(input, shape, weight, bias, eps)[0]
