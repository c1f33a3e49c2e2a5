"""binary_cross_entropy_with_logits, differentiable twice (and beyond) with respect to input and
target; weight and pos_weight are constants, as native."""
import torch
from torch.nn import _reduction

from .._library import ops
from . import arguments
from .function import Function
from .elementwise import Add, AddScalar, Mul, MulScalar, RSubScalar, Sub
from .reduction import sum_to_size

_NONE, _MEAN = 0, 1


@torch.library.register_fake("torchext::binary_cross_entropy_with_logits")
def _bce_fake(self, target, weight=None, pos_weight=None, reduction=_MEAN):
    arguments.same_device("binary_cross_entropy_with_logits", [("self", self), ("target", target)])
    arguments.same_device("binary_cross_entropy_with_logits",
                          [("self", self), ("weight", weight), ("pos_weight", pos_weight)], cpu_scalars=True)
    torch._check(target.shape == self.shape, lambda: "torchext.binary_cross_entropy_with_logits: "
                 f"target size {list(target.shape)} must be the same as input size {list(self.shape)}")
    return self.new_empty(self.shape if reduction == _NONE else ())


@torch.library.register_fake("torchext::binary_cross_entropy_with_logits_backward")
def _bce_backward_fake(grad_output, self, target, weight, pos_weight, reduction, output_mask):
    arguments.same_device("binary_cross_entropy_with_logits_backward", [("self", self), ("target", target)])
    arguments.same_device("binary_cross_entropy_with_logits_backward",
                          [("self", self), ("grad_output", grad_output), ("weight", weight),
                           ("pos_weight", pos_weight)], cpu_scalars=True)
    return tuple(self.new_empty(self.shape) if want else None for want in output_mask)


def _constant_args_check(ctx, first_constant):
    if any(ctx.needs_input_grad[first_constant:first_constant + 2]):
        raise RuntimeError("torchext.binary_cross_entropy_with_logits: not differentiable with respect "
                           "to weight or pos_weight")


def _product(*factors):
    """The product of the factors that are given (None stands for 1), on our Functions."""
    out = None
    for f in factors:
        if f is None:
            continue
        if out is None:
            out = f
        elif isinstance(f, torch.Tensor):
            out = Mul.apply(out, f)
        else:
            out = MulScalar.apply(out, f)
    return out


def _sum(terms):
    """The sum of the terms on our Function (None when there are none)."""
    out = None
    for term in terms:
        out = term if out is None else Add.apply(out, term, 1)
    return out


class BCEWithLogits(Function):
    @staticmethod
    def forward(x, target, weight, pos_weight, reduction):
        return ops.binary_cross_entropy_with_logits(x, target, weight, pos_weight, reduction)

    @staticmethod
    def setup_context(ctx, inputs, output):
        *tensors, ctx.reduction = inputs
        ctx.save_for_backward(*tensors)

    @staticmethod
    def backward(ctx, grad):
        _constant_args_check(ctx, 2)
        x, target, weight, pos_weight = ctx.saved_tensors
        gx, gt = BCEWithLogitsBackward.apply(grad, x, target, weight, pos_weight, ctx.reduction,
                                             ctx.needs_input_grad[0], ctx.needs_input_grad[1])
        return gx, gt, None, None, None


class BCEWithLogitsBackward(Function):
    """(d loss/d input, d loss/d target) times grad. Its own derivatives (the kernel's comment has
    the first ones; lw = (pos_weight - 1) * target + 1, s = sigmoid(input), g = grad / n for mean):
        d gx/d grad = weight * (lw * s - pos_weight * target)        (the kernel with grad = 1)
        d gt/d grad = weight * ((pos_weight - 1) * softplus(-input) - input)
        d gx/d input = g * weight * lw * s * (1 - s)
        d gx/d target = d gt/d input = g * weight * ((pos_weight - 1) * s - pos_weight)
        d gt/d target = 0
    s itself is the kernel's d/d input of the loss at target 0, weight 1, pos_weight 1."""

    @staticmethod
    def forward(grad, x, target, weight, pos_weight, reduction, want_x, want_t):
        return ops.binary_cross_entropy_with_logits_backward(grad, x, target, weight, pos_weight, reduction,
                                                             [want_x, want_t])

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.reduction = inputs[5]
        ctx.save_for_backward(*inputs[:5])

    @staticmethod
    def backward(ctx, ggx, ggt):
        _constant_args_check(ctx, 3)
        grad, x, target, weight, pos_weight = ctx.saved_tensors
        need_grad, need_x, need_t = ctx.needs_input_grad[:3]
        n = max(x.numel(), 1)
        g = MulScalar.apply(grad, 1.0 / n) if ctx.reduction == _MEAN else grad
        result = [None] * 8
        if need_grad:
            dx, dt = BCEWithLogitsBackward.apply(torch.ones_like(x), x, target, weight, pos_weight, _NONE,
                                                 ggx is not None, ggt is not None)
            total = _sum([Mul.apply(gg, d) for gg, d in ((ggx, dx), (ggt, dt)) if gg is not None])
            result[0] = sum_to_size(_product(total, 1.0 / n if ctx.reduction == _MEAN else None), grad.shape)
        x_terms, t_terms = [], []
        if (need_x or need_t) and (ggx is not None or ggt is not None):
            s, _ = BCEWithLogitsBackward.apply(torch.ones_like(x), x, torch.zeros_like(x), None, None, _NONE,
                                               True, False)
            # cross = (pos_weight - 1) * s - pos_weight, which is -1 without pos_weight
            cross = -1 if pos_weight is None else Sub.apply(Mul.apply(AddScalar.apply(pos_weight, -1, 1), s),
                                                           pos_weight, 1)
            if need_x and ggx is not None:
                lw = None if pos_weight is None else AddScalar.apply(
                    Mul.apply(AddScalar.apply(pos_weight, -1, 1), target), 1, 1)
                x_terms.append(_product(ggx, g, weight, lw, s, RSubScalar.apply(s, 1, 1)))
            if need_x and ggt is not None:
                x_terms.append(_product(ggt, g, weight, cross))
            if need_t and ggx is not None:
                t_terms.append(_product(ggx, g, weight, cross))
        result[1], result[2] = _sum(x_terms), _sum(t_terms)
        return tuple(result)


def binary_cross_entropy_with_logits(input, target, weight=None, size_average=None, reduce=None,
                                     reduction="mean", pos_weight=None):
    """torch.nn.functional.binary_cross_entropy_with_logits."""
    op = "binary_cross_entropy_with_logits"
    arguments.tensor(op, "input", input)
    arguments.tensor(op, "target", target)
    arguments.tensor(op, "weight", weight, optional=True)
    arguments.tensor(op, "pos_weight", pos_weight, optional=True)
    if size_average is not None or reduce is not None:
        reduction = _reduction.legacy_get_string(size_average, reduce)
    if not (target.size() == input.size()):
        raise ValueError(f"Target size ({target.size()}) must be the same as input size ({input.size()})")
    reduction_enum = _reduction.get_enum(reduction)
    if torch.is_grad_enabled():
        for name, tensor in (("weight", weight), ("pos_weight", pos_weight)):
            if tensor is not None and tensor.requires_grad:
                raise RuntimeError(f"torchext.binary_cross_entropy_with_logits is not differentiable with "
                                   f"respect to argument '{name}'. This input cannot have requires_grad True.")
    return BCEWithLogits.apply(input, target, weight, pos_weight, reduction_enum)
