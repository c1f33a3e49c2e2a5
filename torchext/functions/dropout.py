"""Dropout (torch.nn.functional.dropout) and torchvision.ops.stochastic_depth: the mask is drawn by
our kernels from the device's default generator, whose state goes in and comes back advanced as
native's draw would leave it; on the CPU the same seed gives native's mask bit for bit."""
import torch
from torch._prims_common import is_non_overlapping_and_dense_or_false

from .._library import ops
from .backward_call import backward_call
from . import arguments
from .batching import check_randomness
from .function import Function, InplaceFunction


@torch.library.register_fake("torchext::dropout")
def _dropout_fake(input, p, rng_state):
    return (torch.empty_like(input), torch.empty_like(input, dtype=torch.uint8),
            rng_state.new_empty(rng_state.shape))


@torch.library.register_fake("torchext::dropout_")
def _dropout__fake(self, p, rng_state):
    return torch.empty_like(self, dtype=torch.uint8), rng_state.new_empty(rng_state.shape)


@torch.library.register_fake("torchext::stochastic_depth")
def _stochastic_depth_fake(input, p, row, rng_state):
    torch._check(not row or input.dim() >= 1,
                 lambda: "torchext.stochastic_depth: expected input with at least 1 dim in row mode")
    noise = [1] * input.dim()
    if row:
        noise[0] = input.shape[0]
    # Row mode reads each sample as one run: a layout without the batch dim outermost is copied
    # contiguous first (dropout_args.h's batch_outermost), and the output follows the copy.
    batch_outermost = is_non_overlapping_and_dense_or_false(input) and (
        input.dim() == 0 or input.shape[0] <= 1 or input.stride(0) * input.shape[0] == input.numel())
    out = torch.empty_like(input) if not row or batch_outermost else input.new_empty(input.shape)
    return (out, input.new_empty(noise, dtype=torch.uint8),
            rng_state.new_empty(rng_state.shape))


@torch.library.register_fake("torchext::dropout_backward")
def _dropout_backward_fake(grad_output, mask, p):
    arguments.same_device("dropout_backward", [("grad_output", grad_output), ("mask", mask)])
    return torch.empty_like(grad_output)


class DropoutBackward(Function):
    """grad * noise: linear in grad, so its own backward is itself."""

    @staticmethod
    def forward(grad, mask, p):
        return ops.dropout_backward(grad, mask, p)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[1])
        ctx.p = inputs[2]

    @staticmethod
    def backward(ctx, grad_grad):
        (mask,) = ctx.saved_tensors
        return dropout_backward(grad_grad, mask, ctx.p), None, None


def dropout_backward(grad, mask, p):
    return backward_call(DropoutBackward, ops.dropout_backward.default)(grad, mask, p)


class Dropout(Function):
    """input * noise, noise = mask / (1 - p); `row` None for dropout, else stochastic_depth's mode.
    Returns (output, the generator's advanced state, the mask)."""

    @staticmethod
    def forward(input, p, row, rng_state):
        if row is None:
            out, mask, state = ops.dropout.default(input, p, rng_state)
        else:
            out, mask, state = ops.stochastic_depth.default(input, p, row, rng_state)
        return out, state, mask

    @staticmethod
    def setup_context(ctx, inputs, output):
        _, state, mask = output
        ctx.mark_non_differentiable(state, mask)
        ctx.save_for_backward(mask)
        ctx.p = inputs[1]

    @staticmethod
    def backward(ctx, grad, _state, _mask):
        (mask,) = ctx.saved_tensors
        return dropout_backward(grad, mask, ctx.p), None, None, None


class DropoutInplace(InplaceFunction):
    """dropout written into input. Returns (input, the generator's advanced state, the mask)."""

    @classmethod
    def vmap(cls, info, in_dims, input, p, rng_state):
        """As the dropout_ op's batching rule (functions/batching.py): one draw over the batch for
        randomness='different', the same mask for every sample for 'same'."""
        check_randomness(info, "dropout_", p)
        bdim = in_dims[0]
        if info.randomness == "same" and p != 1:
            masks = [cls.apply(input.select(bdim, i), p, rng_state)[1:] for i in range(info.batch_size)]
            return (input, masks[-1][0], masks[0][1]), (bdim, None, None)
        _, state, mask = cls.apply(input.movedim(bdim, 0), p, rng_state)
        return (input, state, mask), (bdim, None, 0)

    @staticmethod
    def forward(input, p, rng_state):
        mask, state = ops.dropout_.default(input, p, rng_state)
        return input, state, mask

    @staticmethod
    def setup_context(ctx, inputs, output):
        out, state, mask = output
        ctx.mark_dirty(out)
        ctx.mark_non_differentiable(state, mask)
        ctx.save_for_backward(mask)
        ctx.p = inputs[1]

    @staticmethod
    def backward(ctx, grad, _state, _mask):
        (mask,) = ctx.saved_tensors
        return dropout_backward(grad, mask, ctx.p), None, None


def _plain(state):
    """The generator state itself, out of the wrappers torch.func transforms put on outputs."""
    while torch._C._functorch.is_functorch_wrapped_tensor(state):
        state = torch._C._functorch.get_unwrapped(state)
    return state


def _draw(op, function, input, *args):
    """function.apply(input, *args, state of the default generator of input's device), then that
    generator advanced to the state it returns."""
    device = input.device
    if device.type == "cpu":
        out, state, _ = function.apply(input, *args, torch.get_rng_state())
        torch.set_rng_state(_plain(state))
    elif device.type == "cuda":
        out, state, _ = function.apply(input, *args, torch.cuda.get_rng_state(device))
        torch.cuda.set_rng_state(_plain(state), device)
    else:
        raise RuntimeError(f"torchext.{op}: expected input on the CPU or a CUDA device but got {device}")
    return out


def _probability(op, p, what):
    arguments.real(op, "p", p)
    if p < 0.0 or p > 1.0:
        raise ValueError(f"{what} probability has to be between 0 and 1, but got {p}")


def dropout(input, p=0.5, training=True, inplace=False):
    """torch.nn.functional.dropout. p = 0, evaluation and empty inputs return input itself, as
    native; p = 1 multiplies by zero without drawing. inplace writes the result into input (not
    a leaf that requires grad, as native)."""
    arguments.tensor("dropout", "input", input)
    _probability("dropout", p, "dropout")
    arguments.boolean("dropout", "training", training)
    arguments.boolean("dropout", "inplace", inplace)
    if not training or p == 0 or input.numel() == 0:
        return input
    if not inplace:
        return _draw("dropout", Dropout, input, p, None)
    if input.is_leaf and input.requires_grad and torch.is_grad_enabled():
        raise RuntimeError("torchext.dropout: a leaf Variable that requires grad (input) is being used in an "
                           "in-place operation.")
    if input._base is not None and input.requires_grad and torch.is_grad_enabled():
        # Autograd refuses a Function that modifies a view in place and returns more than one
        # tensor (DropoutInplace returns the state and mask too): nn.Dropout(inplace=True) after a
        # flatten (EfficientNet's classifier) draws out of place and copies into the view, which
        # autograd records as native's in-place op on a view.
        return input.copy_(_draw("dropout", Dropout, input, p, None))
    return _draw("dropout", DropoutInplace, input, p)


def stochastic_depth(input, p, mode, training=True):
    """torchvision.ops.stochastic_depth: zeroes whole samples ("row") or the whole batch ("batch")
    with probability p and scales the rest by 1 / (1 - p)."""
    arguments.tensor("stochastic_depth", "input", input)
    _probability("stochastic_depth", p, "drop")
    if mode not in ("batch", "row"):
        raise ValueError(f"mode has to be either 'batch' or 'row', but got {mode}")
    arguments.boolean("stochastic_depth", "training", training)
    if not training or p == 0.0:
        return input
    return _draw("stochastic_depth", Dropout, input, p, mode == "row")
