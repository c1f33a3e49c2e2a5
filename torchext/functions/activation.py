"""relu, in-place relu and the fused residual add+relu."""
import torch

from .._library import ops
from .backward_call import backward_call
from .arguments import same_device
from .function import Function, InplaceFunction


# The kernels write contiguous outputs whatever the input's strides.
@torch.library.register_fake("torchext::relu")
def _relu_fake(self):
    return self.new_empty(self.shape)


@torch.library.register_fake("torchext::relu_")
def _relu__fake(self):
    return None


@torch.library.register_fake("torchext::relu_backward")
def _relu_backward_fake(grad_output, result):
    same_device("relu_backward", [("grad_output", grad_output), ("result", result)])
    torch._check(grad_output.shape == result.shape, lambda: "torchext.relu_backward: shape mismatch")
    return result.new_empty(result.shape)


@torch.library.register_fake("torchext::add_relu")
def _add_relu_fake(self, other):
    same_device("add_relu", [("self", self), ("other", other)])
    torch._check(self.shape == other.shape, lambda: "torchext.add_relu: shape mismatch")
    return self.new_empty(self.shape)


class ReLUBackward(Function):
    """grad, zeroed where result <= 0 (a NaN result passes grad, as native); linear in grad, so its
    own backward is itself."""

    @staticmethod
    def forward(grad, result):
        return ops.relu_backward(grad, result)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[1])

    @staticmethod
    def backward(ctx, grad_grad):
        (result,) = ctx.saved_tensors
        return relu_backward(grad_grad, result), None


def relu_backward(grad, result):
    """relu's gradient (backward_call: differentiable again under create_graph)."""
    return backward_call(ReLUBackward, ops.relu_backward.default)(grad, result)


class ReLU(Function):
    @staticmethod
    def forward(x):
        return ops.relu.default(x)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(output)

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return relu_backward(grad, out)


class ReLUInplace(InplaceFunction):
    @staticmethod
    def forward(x):
        ops.relu_.default(x)
        return x

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.mark_dirty(output)
        ctx.save_for_backward(output)

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        return relu_backward(grad, out)


class AddReLU(Function):
    """relu(a + b) in one pass; both inputs get relu's gradient."""

    @staticmethod
    def forward(a, b):
        return ops.add_relu.default(a, b)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(output)

    @staticmethod
    def backward(ctx, grad):
        (out,) = ctx.saved_tensors
        g = relu_backward(grad, out)
        return (g if ctx.needs_input_grad[0] else None), (g if ctx.needs_input_grad[1] else None)
