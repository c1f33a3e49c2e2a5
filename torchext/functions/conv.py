"""conv2d: fake kernels, the autograd Functions and the argument handling of
torch.nn.functional.conv2d (int or tuple arguments, padding 'same'/'valid', unbatched input)."""
import torch

from .._library import ops
from .backward_call import backward_call
from .bilinear_backward import double_backward
from . import arguments
from .function import Function


def _out_size(size, kernel, stride, pad_before, pad_after, dilation):
    return (size + pad_before + pad_after - dilation * (kernel - 1) - 1) // stride + 1


@torch.library.register_fake("torchext::conv2d")
def _conv2d_fake(input, weight, bias, stride, padding, dilation, groups):
    arguments.same_device("conv2d", [("input", input), ("weight", weight), ("bias", bias)])
    torch._check(input.dim() == 4, lambda: "torchext.conv2d: expected input to be 4-D")
    torch._check(weight.dim() == 4, lambda: "torchext.conv2d: expected weight to be 4-D")
    torch._check(weight.shape[1] * groups == input.shape[1],
                 lambda: "torchext.conv2d: input channels do not match weight and groups")
    out_h = _out_size(input.shape[2], weight.shape[2], stride[0], padding[0], padding[1], dilation[0])
    out_w = _out_size(input.shape[3], weight.shape[3], stride[1], padding[2], padding[3], dilation[1])
    torch._check(out_h >= 1, lambda: "torchext.conv2d: computed output size is too small")
    torch._check(out_w >= 1, lambda: "torchext.conv2d: computed output size is too small")
    return input.new_empty((input.shape[0], weight.shape[0], out_h, out_w))


@torch.library.register_fake("torchext::conv2d_backward")
def _conv2d_backward_fake(grad_output, input, weight, stride, padding, dilation, groups, output_mask):
    grad_input = input.new_empty(input.shape) if output_mask[0] else None
    grad_weight = weight.new_empty(weight.shape) if output_mask[1] else None
    grad_bias = grad_output.new_empty((weight.shape[0],)) if output_mask[2] else None
    return grad_input, grad_weight, grad_bias


class Conv2dBackward(Function):
    """conv2d's backward op as a graph node (under create_graph); its own backward is conv2d and
    conv2d_backward again (bilinear_backward)."""

    @staticmethod
    def forward(grad, input, weight, stride, padding, dilation, groups, mask):
        return ops.conv2d_backward.default(grad, input, weight, stride, padding, dilation, groups, mask)

    @staticmethod
    def setup_context(ctx, inputs, output):
        grad, input, weight, *conv_args, _mask = inputs
        ctx.conv_args = conv_args
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(grad, input, weight)

    @staticmethod
    def backward(ctx, gg_input, gg_weight, gg_bias):
        args = ctx.conv_args
        d_grad, d_input, d_weight = double_backward(
            lambda x, w, b: Conv2d.apply(x, w, b, *args),
            lambda g, x, w, mask: backward_call(Conv2dBackward, ops.conv2d_backward.default)(g, x, w, *args, mask),
            ctx.saved_tensors, (gg_input, gg_weight, gg_bias), ctx.needs_input_grad, (-1, 1, 1))
        return d_grad, d_input, d_weight, None, None, None, None, None


class Conv2d(Function):
    """stride, dilation: [h, w]; padding: [top, bottom, left, right]."""

    @staticmethod
    def forward(input, weight, bias, stride, padding, dilation, groups):
        return ops.conv2d.default(input, weight, bias, stride, padding, dilation, groups)

    @staticmethod
    def setup_context(ctx, inputs, output):
        input, weight, bias, *conv_args = inputs
        ctx.conv_args = tuple(conv_args)
        ctx.has_bias = bias is not None
        ctx.save_for_backward(input, weight)

    @staticmethod
    def backward(ctx, grad):
        input, weight = ctx.saved_tensors
        needs = ctx.needs_input_grad
        mask = [needs[0], needs[1], ctx.has_bias and needs[2]]
        grad_input, grad_weight, grad_bias = backward_call(Conv2dBackward, ops.conv2d_backward.default)(grad, input, weight, *ctx.conv_args, mask)
        return grad_input, grad_weight, grad_bias, None, None, None, None


def _padding(padding, weight, stride, dilation):
    """conv2d's padding argument as [top, bottom, left, right]."""
    if not isinstance(padding, str):
        pad_h, pad_w = arguments.int_pair("conv2d", "padding", padding)
        return [pad_h, pad_h, pad_w, pad_w]
    if padding == "valid":
        return [0, 0, 0, 0]
    if padding != "same":
        raise RuntimeError(f"torchext.conv2d: invalid padding string {padding!r}, expected 'same' or 'valid'")
    if any(s != 1 for s in stride):
        raise RuntimeError("torchext.conv2d: padding='same' is not supported for strided convolutions")
    if weight.dim() != 4:  # the op reports the bad weight
        return [0, 0, 0, 0]
    pads = []
    for kernel, d in zip(weight.shape[2:], dilation):
        # Output size = input size needs d*(k-1) padding in all; like native, an odd total puts
        # the extra element at the end (bottom / right).
        total = d * (kernel - 1)
        pads += [total // 2, total - total // 2]
    return pads


def conv2d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """torch.nn.functional.conv2d."""
    arguments.tensor("conv2d", "input", input)
    arguments.tensor("conv2d", "weight", weight)
    arguments.tensor("conv2d", "bias", bias, optional=True)
    arguments.integer("conv2d", "groups", groups)
    stride = arguments.int_pair("conv2d", "stride", stride)
    dilation = arguments.int_pair("conv2d", "dilation", dilation)
    pads = _padding(padding, weight, stride, dilation)
    if input.dim() == 3:
        out = Conv2d.apply(input.unsqueeze(0), weight, bias, stride, pads, dilation, groups)
        return out.squeeze(0)
    if input.dim() != 4:
        raise RuntimeError("torchext.conv2d: expected input to be 3-D (unbatched) or 4-D (batched) "
                           f"but got input of shape {list(input.shape)}")
    return Conv2d.apply(input, weight, bias, stride, pads, dilation, groups)
