"""softmax and log_softmax over one dim: fake kernels, the autograd Function and the functionals
torch.nn.functional.softmax / log_softmax (dtype= converts the input first, as native)."""
import torch
import torch.nn.functional as NF

from .._library import ops
from .backward_call import backward_call
from .function import Function
from .backward_only import not_differentiable_again
from . import arguments


def _check_dim(op, input, dim):
    rank = max(input.dim(), 1)
    torch._check_index(-rank <= dim < rank,
                 lambda: f"torchext.{op}: expected dim in [{-rank}, {rank - 1}] but got {dim}")


def _forward_fake(op):
    def fake(self, dim, dtype=None):
        _check_dim(op, self, dim)
        return self.new_empty(self.shape, dtype=dtype or self.dtype)
    return fake


def _backward_fake(op):
    def fake(grad_output, output, dim, input_dtype):
        arguments.same_device(op, [("grad_output", grad_output), ("output", output)])
        _check_dim(op, output, dim)
        torch._check(grad_output.shape == output.shape,
                     lambda: f"torchext.{op}: expected grad_output of shape {tuple(output.shape)} (the "
                             f"output's) but got {tuple(grad_output.shape)}")
        return output.new_empty(output.shape, dtype=input_dtype)
    return fake


for _name in ("softmax", "log_softmax"):
    torch.library.register_fake(f"torchext::{_name}")(_forward_fake(_name))
    torch.library.register_fake(f"torchext::{_name}_backward")(_backward_fake(f"{_name}_backward"))

SoftmaxBackward = not_differentiable_again("softmax", ops.softmax_backward.default)
LogSoftmaxBackward = not_differentiable_again("log_softmax", ops.log_softmax_backward.default)


class _Softmax(Function):
    """softmax, or log_softmax when log; the backward reads the output only."""

    @staticmethod
    def forward(input, dim, dtype, log):
        return (ops.log_softmax if log else ops.softmax).default(input, dim, dtype)

    @staticmethod
    def setup_context(ctx, inputs, output):
        input, ctx.dim, _, ctx.log = inputs
        ctx.input_dtype = input.dtype
        ctx.save_for_backward(output)

    @staticmethod
    def backward(ctx, grad):
        if not ctx.needs_input_grad[0]:
            return None, None, None, None
        out, = ctx.saved_tensors
        if ctx.log:
            backward = backward_call(LogSoftmaxBackward, ops.log_softmax_backward.default)
        else:
            backward = backward_call(SoftmaxBackward, ops.softmax_backward.default)
        return backward(grad, out, ctx.dim, ctx.input_dtype), None, None, None


def _apply(op, input, dim, dtype, stacklevel, log):
    arguments.tensor(op, "input", input)
    if dim is None:
        # native's legacy choice for an implicit dim (with its deprecation warning)
        dim = NF._get_softmax_dim(op, input.dim(), stacklevel)
    dim = arguments.integer(op, "dim", dim)
    if dtype is not None and not isinstance(dtype, torch.dtype):
        raise TypeError(f"torchext.{op}: expected dtype to be a torch.dtype, but got {type(dtype).__name__}")
    return _Softmax.apply(input, dim, dtype, log)


def softmax(input, dim=None, _stacklevel=3, dtype=None):
    """torch.nn.functional.softmax."""
    return _apply("softmax", input, dim, dtype, _stacklevel, log=False)


def log_softmax(input, dim=None, _stacklevel=3, dtype=None):
    """torch.nn.functional.log_softmax."""
    return _apply("log_softmax", input, dim, dtype, _stacklevel, log=True)
