"""Batch normalisation: fake kernels, autograd Functions and torch.nn.functional.batch_norm, and
the fused relu(batch_norm(x) + residual) that residual networks run after each convolution.

Running statistics are not differentiable inputs of the op: in training the forward updates them
in place, exactly once per call, and they reach autograd no other way (as in native, their version
counters are left alone and an eval-mode graph saves them for its backward).
"""
import torch

from .._library import ops
from .backward_call import backward_call
from .activation import relu_backward
from .elementwise import add, pow
from .norm_double_backward import Statistics, double_backward
from . import arguments
from .function import Function


def _memory_format(input):
    """The layout the kernels write in: channels-last for a channels-last (and not also plain
    contiguous) 4-D input, contiguous otherwise."""
    if (input.dim() == 4 and not input.is_contiguous()
            and input.is_contiguous(memory_format=torch.channels_last)):
        return torch.channels_last
    return torch.contiguous_format


def _check_channel_param(op, name, t, input):
    if t is not None:
        torch._check(t.dim() == 1 and t.shape[0] == input.shape[1],
                     lambda: f"{op}: expected {name} to be 1-D with {input.shape[1]} elements "
                             f"but got shape {tuple(t.shape)}")


@torch.library.register_fake("torchext::batch_norm")
def _batch_norm_fake(input, weight, bias, running_mean, running_var, training, momentum, eps,
                     name="batch_norm"):
    op = f"torchext.{name}"
    arguments.same_device(name, [("input", input), ("weight", weight), ("bias", bias),
                                         ("running_mean", running_mean), ("running_var", running_var)])
    torch._check(input.dim() >= 2, lambda: f"{op}: expected input to have at least 2 dims")
    for name, t in (("weight", weight), ("bias", bias), ("running_mean", running_mean),
                    ("running_var", running_var)):
        _check_channel_param(op, name, t, input)
    out = torch.empty_like(input, memory_format=_memory_format(input))
    saved = (input.shape[1],) if training else (0,)
    # Statistics of float16/bfloat16 input are kept in float32 (as native CUDA does).
    stats_dtype = torch.float32 if input.dtype in (torch.float16, torch.bfloat16) else input.dtype
    return out, input.new_empty(saved, dtype=stats_dtype), input.new_empty(saved, dtype=stats_dtype)


@torch.library.register_fake("torchext::batch_norm_backward")
def _batch_norm_backward_fake(grad_output, input, weight, running_mean, running_var, save_mean,
                              save_invstd, training, eps, output_mask, name="batch_norm_backward"):
    arguments.same_device(name, [
        ("grad_output", grad_output), ("input", input), ("weight", weight), ("running_mean", running_mean),
        ("running_var", running_var), ("save_mean", save_mean), ("save_invstd", save_invstd)])
    torch._check(grad_output.shape == input.shape,
                 lambda: f"torchext.{name}: grad_output and input shapes differ")
    channels = input.shape[1]
    grad_input = torch.empty_like(input, memory_format=_memory_format(input)) if output_mask[0] else None
    param_dtype = weight.dtype if weight is not None else input.dtype
    grad_weight = input.new_empty((channels,), dtype=param_dtype) if output_mask[1] else None
    grad_bias = input.new_empty((channels,), dtype=param_dtype) if output_mask[2] else None
    return grad_input, grad_weight, grad_bias


def _statistics(input, running_mean, running_var, save_mean, save_invstd, training, eps):
    """The double backward's view of the statistics: per channel (dim 1), the batch's in
    training, the running ones (constants) in eval."""
    shape = [1] * input.dim()
    shape[1] = -1
    reduced = [d for d in range(input.dim()) if d != 1]
    if training:
        return Statistics(input, save_mean.reshape(shape), save_invstd.reshape(shape), reduced,
                          differentiable=torch.is_grad_enabled()), shape, reduced
    invstd = pow(add(running_var, eps), -0.5).reshape(shape)
    return Statistics(input, running_mean.reshape(shape), invstd, reduced, differentiable=False,
                      constant=True), shape, reduced


class BatchNormBackward(Function):
    """batch_norm's backward op as a graph node (under create_graph); its backward is native's
    batchnorm_double_backward on our ops (norm_double_backward)."""

    @staticmethod
    def forward(grad, input, weight, running_mean, running_var, save_mean, save_invstd, training, eps, mask):
        return ops.batch_norm_backward.default(grad, input, weight, running_mean, running_var, save_mean,
                                               save_invstd, training, eps, mask)

    @staticmethod
    def setup_context(ctx, inputs, output):
        grad, input, weight, running_mean, running_var, save_mean, save_invstd, training, eps, _ = inputs
        ctx.training, ctx.eps = training, eps
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(grad, input, weight, running_mean, running_var, save_mean, save_invstd)

    @staticmethod
    def backward(ctx, gg_input, gg_weight, gg_bias):
        grad, input, weight, running_mean, running_var, save_mean, save_invstd = ctx.saved_tensors
        stats, shape, reduced = _statistics(input, running_mean, running_var, save_mean, save_invstd,
                                            ctx.training, ctx.eps)
        grads = double_backward(stats, grad, weight, (gg_input, gg_weight, gg_bias), shape, reduced,
                                ctx.needs_input_grad[:3])
        return (*grads, *(None,) * 7)


def _backward_statistics(ctx, input, a, b):
    """(running_mean, running_var, save_mean, save_invstd) for the backward op from the two
    statistics the forward saved: the batch's in training, the running ones in eval."""
    if ctx.training:
        return None, None, a, b
    empty = input.new_empty((0,))
    return a, b, empty, empty


def _save_statistics(ctx, output, running_mean, running_var, training, eps, *tensors):
    """Saves `tensors` and the statistics the backward reads: the batch's (the op's second and
    third outputs, not differentiable) in training, the running ones in eval."""
    _, save_mean, save_invstd = output
    ctx.mark_non_differentiable(save_mean, save_invstd)
    ctx.training, ctx.eps = training, eps
    stats = (save_mean, save_invstd) if training else (running_mean, running_var)
    ctx.save_for_backward(*tensors, *stats)


class BatchNorm(Function):
    """Returns the batch_norm op's (output, save_mean, save_invstd)."""

    @staticmethod
    def forward(input, weight, bias, running_mean, running_var, training, momentum, eps):
        return ops.batch_norm.default(input, weight, bias, running_mean, running_var, training, momentum, eps)

    @staticmethod
    def setup_context(ctx, inputs, output):
        input, weight, _, running_mean, running_var, training, _, eps = inputs
        _save_statistics(ctx, output, running_mean, running_var, training, eps, input, weight)

    @staticmethod
    def backward(ctx, grad, _save_mean, _save_invstd):
        mask = list(ctx.needs_input_grad[:3])
        if not any(mask):
            return (None,) * 8
        input, weight, a, b = ctx.saved_tensors
        running_mean, running_var, save_mean, save_invstd = _backward_statistics(ctx, input, a, b)
        backward = backward_call(BatchNormBackward, ops.batch_norm_backward.default)
        grad_input, grad_weight, grad_bias = backward(
            grad, input, weight, running_mean, running_var, save_mean, save_invstd, ctx.training,
            ctx.eps, mask)
        return grad_input, grad_weight, grad_bias, None, None, None, None, None


def batch_norm(input, running_mean, running_var, weight=None, bias=None, training=False,
               momentum=0.1, eps=1e-05):
    """torch.nn.functional.batch_norm. `momentum` is the exponential average factor (a float);
    a module with momentum=None passes 1/num_batches_tracked here, as torch.nn.BatchNorm2d does."""
    arguments.tensor("batch_norm", "input", input)
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias)):
        arguments.tensor("batch_norm", name, t, optional=True)
    arguments.real("batch_norm", "momentum", momentum)
    arguments.real("batch_norm", "eps", eps)
    return BatchNorm.apply(input, weight, bias, running_mean, running_var, training, momentum, eps)[0]


@torch.library.register_fake("torchext::batch_norm_relu")
def _batch_norm_relu_fake(input, residual, weight, bias, running_mean, running_var, training,
                          momentum, eps):
    if residual is not None:
        arguments.same_device("batch_norm_relu", [("input", input), ("residual", residual)])
        torch._check(residual.shape == input.shape,
                     lambda: f"torchext.batch_norm_relu: expected residual of shape "
                             f"{tuple(input.shape)} (the input's) but got {tuple(residual.shape)}")
    return _batch_norm_fake(input, weight, bias, running_mean, running_var, training, momentum, eps,
                            name="batch_norm_relu")


@torch.library.register_fake("torchext::batch_norm_relu_backward")
def _batch_norm_relu_backward_fake(grad_output, output, input, weight, running_mean, running_var,
                                   save_mean, save_invstd, training, eps, output_mask):
    name = "batch_norm_relu_backward"
    arguments.same_device(name, [("input", input), ("output", output)])
    torch._check(output.shape == input.shape,
                 lambda: f"torchext.{name}: output and input shapes differ")
    grad_input, grad_weight, grad_bias = _batch_norm_backward_fake(
        grad_output, input, weight, running_mean, running_var, save_mean, save_invstd, training,
        eps, [output_mask[0], output_mask[2], output_mask[3]], name=name)
    grad_residual = (torch.empty_like(input, memory_format=_memory_format(input))
                     if output_mask[1] else None)
    return grad_input, grad_residual, grad_weight, grad_bias


class BatchNormReluBackward(Function):
    """batch_norm_relu's backward op as a graph node (under create_graph): batch_norm's backward
    of g = relu_backward(grad, output), and g itself for the residual; so its backward is batch
    norm's double backward at g, taken back through relu_backward (the output's own derivative
    is zero almost everywhere)."""

    @staticmethod
    def forward(grad, output, input, weight, running_mean, running_var, save_mean, save_invstd, training, eps,
                mask):
        return ops.batch_norm_relu_backward.default(grad, output, input, weight, running_mean, running_var,
                                                    save_mean, save_invstd, training, eps, mask)

    @staticmethod
    def setup_context(ctx, inputs, output):
        grad, out, input, weight, running_mean, running_var, save_mean, save_invstd, training, eps, _ = inputs
        ctx.training, ctx.eps = training, eps
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(grad, out, input, weight, running_mean, running_var, save_mean, save_invstd)

    @staticmethod
    def backward(ctx, gg_input, gg_residual, gg_weight, gg_bias):
        grad, out, input, weight, running_mean, running_var, save_mean, save_invstd = ctx.saved_tensors
        needs = ctx.needs_input_grad
        stats, shape, reduced = _statistics(input, running_mean, running_var, save_mean, save_invstd,
                                            ctx.training, ctx.eps)
        d_g, d_input, d_weight = double_backward(
            stats, relu_backward(grad, out), weight, (gg_input, gg_weight, gg_bias), shape, reduced,
            (needs[0], needs[2], needs[3]))
        if needs[0] and gg_residual is not None:
            d_g = gg_residual if d_g is None else add(d_g, gg_residual)
        d_grad = relu_backward(d_g, out) if d_g is not None else None
        return (d_grad, None, d_input, d_weight, *(None,) * 7)


class BatchNormRelu(Function):
    """relu(batch_norm(input) + residual): the output alone is saved for relu's mask (the next
    layer usually saves it anyway), so fusing costs no memory. Returns the op's (output, save_mean,
    save_invstd)."""

    @staticmethod
    def forward(input, residual, weight, bias, running_mean, running_var, training, momentum, eps):
        return ops.batch_norm_relu.default(input, residual, weight, bias, running_mean, running_var, training,
                                           momentum, eps)

    @staticmethod
    def setup_context(ctx, inputs, output):
        input, _, weight, _, running_mean, running_var, training, _, eps = inputs
        _save_statistics(ctx, output, running_mean, running_var, training, eps, output[0], input, weight)

    @staticmethod
    def backward(ctx, grad, _save_mean, _save_invstd):
        mask = list(ctx.needs_input_grad[:4])
        if not any(mask):
            return (None,) * 9
        out, input, weight, a, b = ctx.saved_tensors
        running_mean, running_var, save_mean, save_invstd = _backward_statistics(ctx, input, a, b)
        backward = backward_call(BatchNormReluBackward, ops.batch_norm_relu_backward.default)
        grads = backward(grad, out, input, weight, running_mean, running_var, save_mean,
                         save_invstd, ctx.training, ctx.eps, mask)
        return (*grads, None, None, None, None, None)


def batch_norm_relu(input, running_mean, running_var, weight=None, bias=None, training=False,
                    momentum=0.1, eps=1e-05, residual=None):
    """relu(batch_norm(input, ...) + residual) in one pass (residual optional, of input's shape):
    torch.nn.functional.batch_norm's arguments, then the value added before the relu."""
    arguments.tensor("batch_norm_relu", "input", input)
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight),
                    ("bias", bias), ("residual", residual)):
        arguments.tensor("batch_norm_relu", name, t, optional=True)
    arguments.real("batch_norm_relu", "momentum", momentum)
    arguments.real("batch_norm_relu", "eps", eps)
    return BatchNormRelu.apply(input, residual, weight, bias, running_mean, running_var, training,
                               momentum, eps)[0]
