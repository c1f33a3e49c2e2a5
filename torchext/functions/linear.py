"""linear: fake kernels, the autograd Functions and torch.nn.functional.linear's signature."""
import torch

from .._library import ops
from .backward_call import backward_call
from .bilinear_backward import double_backward
from . import arguments
from .function import Function
from .elementwise import add


@torch.library.register_fake("torchext::linear")
def _linear_fake(input, weight, bias=None):
    arguments.same_device("linear", [("input", input), ("weight", weight), ("bias", bias)])
    torch._check(input.dim() >= 1, lambda: "torchext.linear: expected input to have at least 1 dimension")
    torch._check(weight.dim() == 2, lambda: "torchext.linear: expected weight to be 2-D")
    torch._check(input.shape[-1] == weight.shape[1],
                 lambda: "torchext.linear: input's last dimension does not match weight's in_features")
    return input.new_empty((*input.shape[:-1], weight.shape[0]))


@torch.library.register_fake("torchext::linear_backward")
def _linear_backward_fake(grad_output, input, weight, output_mask):
    grad_input = input.new_empty(input.shape) if output_mask[0] else None
    grad_weight = weight.new_empty(weight.shape) if output_mask[1] else None
    grad_bias = grad_output.new_empty((weight.shape[0],)) if output_mask[2] else None
    return grad_input, grad_weight, grad_bias


class LinearBackward(Function):
    """linear's backward op as a graph node (under create_graph); its own backward is linear and
    linear_backward again (bilinear_backward)."""

    @staticmethod
    def forward(grad, input, weight, mask):
        return ops.linear_backward.default(grad, input, weight, mask)

    @staticmethod
    def setup_context(ctx, inputs, output):
        grad, input, weight, _mask = inputs
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(grad, input, weight)

    @staticmethod
    def backward(ctx, gg_input, gg_weight, gg_bias):
        d_grad, d_input, d_weight = double_backward(
            Linear.apply, backward_call(LinearBackward, ops.linear_backward.default),
            ctx.saved_tensors, (gg_input, gg_weight, gg_bias), ctx.needs_input_grad, (-1,))
        return d_grad, d_input, d_weight, None


class Linear(Function):
    @staticmethod
    def forward(input, weight, bias):
        return ops.linear.default(input, weight, bias)

    @staticmethod
    def setup_context(ctx, inputs, output):
        input, weight, bias = inputs
        ctx.has_bias = bias is not None
        ctx.save_for_backward(input, weight)

    @staticmethod
    def backward(ctx, grad):
        input, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        mask = [needs[0], needs[1], ctx.has_bias and needs[2]]
        return backward_call(LinearBackward, ops.linear_backward.default)(grad, input, weight, mask)


def linear(input, weight, bias=None):
    """torch.nn.functional.linear. A bias of another shape than (out_features,) is added with
    broadcasting, as native."""
    arguments.tensor("linear", "input", input)
    arguments.tensor("linear", "weight", weight)
    arguments.tensor("linear", "bias", bias, optional=True)
    if bias is not None and bias.dim() != 1:
        return add(linear(input, weight), bias)
    if weight.dim() == 1 and bias is None:
        # A 1-D weight is one output feature whose dimension is dropped, as native.
        return Linear.apply(input, weight.unsqueeze(0), None).squeeze(-1)
    return Linear.apply(input, weight, bias)
