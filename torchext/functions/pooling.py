"""2-D max pooling, average pooling and adaptive average pooling: fake kernels, autograd Functions
and the torch.nn.functional signatures."""
import torch

from .._library import ops
from .backward_call import backward_call
from . import arguments
from .function import Function


def _pooled_size(size, kernel, stride, pad, dilation, ceil_mode):
    """Output length along one dim: floor (or ceil) of (size + 2*pad - dilation*(kernel-1) - 1)
    / stride, plus one; in ceil mode the last window must start inside the input or left padding."""
    span = size + 2 * pad - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)
    out = span // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


@torch.library.register_fake("torchext::max_pool2d")
def _max_pool2d_fake(self, kernel_size, stride, padding, dilation, ceil_mode):
    torch._check(self.dim() in (3, 4), lambda: "torchext.max_pool2d: expected self to be 3-D or 4-D")
    torch._check(all(s > 0 for s in stride), lambda: "torchext.max_pool2d: expected stride to be positive")
    sizes = [_pooled_size(self.shape[-2 + d], kernel_size[d], stride[d], padding[d], dilation[d], ceil_mode)
             for d in range(2)]
    shape = (*self.shape[:-2], *sizes)
    return self.new_empty(shape), self.new_empty(shape, dtype=torch.int64)


@torch.library.register_fake("torchext::max_pool2d_backward")
def _max_pool2d_backward_fake(grad_output, self, indices):
    arguments.same_device("max_pool2d_backward", [("grad_output", grad_output), ("self", self), ("indices", indices)])
    torch._check(grad_output.shape == indices.shape,
                 lambda: "torchext.max_pool2d_backward: grad_output and indices shapes differ")
    return self.new_empty(self.shape)


@torch.library.register_fake("torchext::max_pool2d_double_backward")
def _max_pool2d_double_backward_fake(grad_grad_input, indices):
    arguments.same_device("max_pool2d_double_backward", [("grad_grad_input", grad_grad_input), ("indices", indices)])
    torch._check(grad_grad_input.shape[:-2] == indices.shape[:-2],
                 lambda: "torchext.max_pool2d_double_backward: grad_grad_input and indices leading sizes differ")
    return grad_grad_input.new_empty(indices.shape)


@torch.library.register_fake("torchext::avg_pool2d")
def _avg_pool2d_fake(self, kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override):
    torch._check(self.dim() in (3, 4), lambda: "torchext.avg_pool2d: expected self to be 3-D or 4-D")
    torch._check(all(s > 0 for s in stride), lambda: "torchext.avg_pool2d: expected stride to be positive")
    sizes = [_pooled_size(self.shape[-2 + d], kernel_size[d], stride[d], padding[d], 1, ceil_mode)
             for d in range(2)]
    return self.new_empty((*self.shape[:-2], *sizes))


@torch.library.register_fake("torchext::avg_pool2d_backward")
def _avg_pool2d_backward_fake(grad_output, self, kernel_size, stride, padding, ceil_mode, count_include_pad,
                              divisor_override):
    arguments.same_device("avg_pool2d_backward", [("grad_output", grad_output), ("self", self)])
    return self.new_empty(self.shape)


@torch.library.register_fake("torchext::adaptive_avg_pool2d")
def _adaptive_avg_pool2d_fake(self, output_size):
    torch._check(self.dim() in (3, 4), lambda: "torchext.adaptive_avg_pool2d: expected self to be 3-D or 4-D")
    return self.new_empty((*self.shape[:-2], *output_size))


@torch.library.register_fake("torchext::adaptive_avg_pool2d_backward")
def _adaptive_avg_pool2d_backward_fake(grad_output, self):
    arguments.same_device("adaptive_avg_pool2d_backward", [("grad_output", grad_output), ("self", self)])
    torch._check(grad_output.shape[:-2] == self.shape[:-2],
                 lambda: "torchext.adaptive_avg_pool2d_backward: leading sizes differ")
    return self.new_empty(self.shape)


class MaxPool2dBackward(Function):
    """Scatters grad into the argmax positions: linear in grad, and piecewise constant in the
    input (its derivative there is zero), so its backward is the gather at the indices."""

    @staticmethod
    def forward(grad, input, indices):
        return ops.max_pool2d_backward.default(grad, input, indices)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[2])

    @staticmethod
    def backward(ctx, grad_grad):
        if not ctx.needs_input_grad[0]:
            return None, None, None
        (indices,) = ctx.saved_tensors
        gather = backward_call(MaxPool2dDoubleBackward, ops.max_pool2d_double_backward.default)
        return gather(grad_grad, indices), None, None


class MaxPool2dDoubleBackward(Function):
    """grad_grad_input gathered at the indices; its backward is the scatter, max_pool2d_backward
    (grad_grad_input has the input's shape, all that op reads of its `self`)."""

    @staticmethod
    def forward(grad_grad_input, indices):
        return ops.max_pool2d_double_backward.default(grad_grad_input, indices)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(*inputs)

    @staticmethod
    def backward(ctx, grad):
        if not ctx.needs_input_grad[0]:
            return None, None
        grad_grad_input, indices = ctx.saved_tensors
        scatter = backward_call(MaxPool2dBackward, ops.max_pool2d_backward.default)
        return scatter(grad, grad_grad_input, indices), None


class MaxPool2d(Function):
    @staticmethod
    def forward(input, kernel_size, stride, padding, dilation, ceil_mode):
        return ops.max_pool2d.default(input, kernel_size, stride, padding, dilation, ceil_mode)

    @staticmethod
    def setup_context(ctx, inputs, output):
        indices = output[1]
        ctx.mark_non_differentiable(indices)
        ctx.save_for_backward(inputs[0], indices)

    @staticmethod
    def backward(ctx, grad, _grad_indices):
        if not ctx.needs_input_grad[0]:
            return (None,) * 6
        input, indices = ctx.saved_tensors
        backward = backward_call(MaxPool2dBackward, ops.max_pool2d_backward.default)
        return backward(grad, input, indices), None, None, None, None, None


class AvgPool2dBackward(Function):
    """grad -> A^T grad, where A is the (linear) pooling; its own backward is A, the forward op.
    self only gives the input's shape, so it gets no gradient."""

    @staticmethod
    def forward(grad, input, *params):
        return ops.avg_pool2d_backward.default(grad, input, *params)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.params = inputs[2:]

    @staticmethod
    def backward(ctx, grad_grad):
        return AvgPool2d.apply(grad_grad, *ctx.params), None, *(None,) * len(ctx.params)


class AvgPool2d(Function):
    """params: kernel_size, stride, padding, ceil_mode, count_include_pad, divisor_override."""

    @staticmethod
    def forward(input, *params):
        return ops.avg_pool2d.default(input, *params)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.params = inputs[1:]
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, grad):
        if not ctx.needs_input_grad[0]:
            return (None,) * (1 + len(ctx.params))
        (input,) = ctx.saved_tensors
        backward = backward_call(AvgPool2dBackward, ops.avg_pool2d_backward.default)
        return backward(grad, input, *ctx.params), *(None,) * len(ctx.params)


class AdaptiveAvgPool2dBackward(Function):
    """grad -> A^T grad, where A is the (linear) pooling; its own backward is A, the forward op."""

    @staticmethod
    def forward(grad, input):
        return ops.adaptive_avg_pool2d_backward.default(grad, input)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.output_size = tuple(inputs[0].shape[-2:])

    @staticmethod
    def backward(ctx, grad_grad):
        return AdaptiveAvgPool2d.apply(grad_grad, ctx.output_size), None


class AdaptiveAvgPool2d(Function):
    @staticmethod
    def forward(input, output_size):
        return ops.adaptive_avg_pool2d.default(input, output_size)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.output_size = inputs[1]
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, grad):
        if not ctx.needs_input_grad[0]:
            return None, None
        (input,) = ctx.saved_tensors
        backward = backward_call(AdaptiveAvgPool2dBackward, ops.adaptive_avg_pool2d_backward.default)
        return backward(grad, input), None


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    """torch.nn.functional.max_pool2d (stride None or empty means kernel_size)."""
    op = "max_pool2d"
    arguments.tensor(op, "input", input)
    kernel_size = arguments.int_pair(op, "kernel_size", kernel_size)
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        stride = kernel_size
    out, indices = MaxPool2d.apply(input, kernel_size, arguments.int_pair(op, "stride", stride),
                                   arguments.int_pair(op, "padding", padding),
                                   arguments.int_pair(op, "dilation", dilation),
                                   arguments.boolean(op, "ceil_mode", ceil_mode))
    return (out, indices) if return_indices else out


def avg_pool2d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True,
               divisor_override=None):
    """torch.nn.functional.avg_pool2d (stride None or empty means kernel_size)."""
    op = "avg_pool2d"
    arguments.tensor(op, "input", input)
    if input.dim() < 3:  # native fails on the channel dim's index first: IndexError, as there
        raise IndexError(f"torchext.avg_pool2d: expected input to be 3-D (C, H, W) or 4-D (N, C, H, W) but "
                         f"got a {input.dim()}-D tensor of shape {list(input.shape)}")
    kernel_size = arguments.int_pair(op, "kernel_size", kernel_size)
    if stride is None or (isinstance(stride, (tuple, list)) and len(stride) == 0):
        stride = kernel_size
    if divisor_override is not None:
        arguments.integer(op, "divisor_override", divisor_override)
    return AvgPool2d.apply(input, kernel_size, arguments.int_pair(op, "stride", stride),
                           arguments.int_pair(op, "padding", padding), arguments.boolean(op, "ceil_mode", ceil_mode),
                           arguments.boolean(op, "count_include_pad", count_include_pad), divisor_override)


def adaptive_avg_pool2d(input, output_size):
    """torch.nn.functional.adaptive_avg_pool2d: output_size is an int or a pair whose None entries
    keep the input's size."""
    arguments.tensor("adaptive_avg_pool2d", "input", input)
    if isinstance(output_size, (tuple, list)):
        output_size = tuple(output_size)
        if input.dim() <= len(output_size):
            raise ValueError(f"Input dimension should be at least {len(output_size) + 1}")
        output_size = tuple(input.shape[-len(output_size) + i] if v is None else v
                            for i, v in enumerate(output_size))
    return AdaptiveAvgPool2d.apply(input, arguments.int_pair("adaptive_avg_pool2d", "output_size", output_size))
