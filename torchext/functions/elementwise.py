"""add, sub, mul, div (tensor-tensor with broadcasting; tensor-scalar) and pow (by a scalar or a
tensor exponent). Every backward is built from these Functions and sum_to_size, and pow_backward
(both gradients of a ** b, with native's rules at a == 0 and negative a) has a backward made of
pow_backward, pow and mul, so all are differentiable to any order."""
import numbers

import torch

from .._library import ops
from .arguments import same_device
from .backward_call import backward_call
from .function import Function
from .reduction import sum_to_size


def _binary_fake(op, self, other):
    same_device(op, [("self", self), ("other", other)], cpu_scalars=True)
    device = other.device if self.dim() == 0 and self.device.type == "cpu" else self.device
    shape = torch.broadcast_shapes(self.shape, other.shape)
    return torch.empty(shape, dtype=torch.result_type(self, other), device=device)


@torch.library.register_fake("torchext::add")
def _add_fake(self, other, alpha=1):
    return _binary_fake("add", self, other)


@torch.library.register_fake("torchext::sub")
def _sub_fake(self, other, alpha=1):
    return _binary_fake("sub", self, other)


@torch.library.register_fake("torchext::mul")
def _mul_fake(self, other):
    return _binary_fake("mul", self, other)


# Tensor-scalar ops keep self's shape and dtype; the output is contiguous.
@torch.library.register_fake("torchext::add_scalar")
def _add_scalar_fake(self, other, alpha=1):
    return self.new_empty(self.shape)


@torch.library.register_fake("torchext::rsub_scalar")
def _rsub_scalar_fake(self, other, alpha=1):
    return self.new_empty(self.shape)


@torch.library.register_fake("torchext::mul_scalar")
def _mul_scalar_fake(self, other):
    return self.new_empty(self.shape)


@torch.library.register_fake("torchext::pow_scalar")
def _pow_scalar_fake(self, exponent):
    return self.new_empty(self.shape)


@torch.library.register_fake("torchext::div")
def _div_fake(self, other):
    return _binary_fake("div", self, other)


@torch.library.register_fake("torchext::div_scalar")
def _div_scalar_fake(self, other):
    return self.new_empty(self.shape)


@torch.library.register_fake("torchext::rdiv_scalar")
def _rdiv_scalar_fake(self, other):
    return self.new_empty(self.shape)


@torch.library.register_fake("torchext::pow")
def _pow_fake(self, exponent):
    return _binary_fake("pow", self, exponent)


@torch.library.register_fake("torchext::pow_backward")
def _pow_backward_fake(grad_output, self, exponent, result, output_mask):
    same_device("pow_backward", [("grad_output", grad_output), ("self", self), ("exponent", exponent),
                                 ("result", result)], cpu_scalars=True)
    return tuple(grad_output.new_empty(grad_output.shape) if m else None for m in output_mask)


def _scaled(grad, factor):
    return grad if factor == 1 else MulScalar.apply(grad, factor)


class Add(Function):
    """self + alpha * other."""

    @staticmethod
    def forward(a, b, alpha):
        return ops.add(a, b, alpha)

    @staticmethod
    def setup_context(ctx, inputs, output):
        a, b, ctx.alpha = inputs
        ctx.shapes = (a.shape, b.shape)

    @staticmethod
    def backward(ctx, grad):
        a_shape, b_shape = ctx.shapes
        ga = sum_to_size(grad, a_shape) if ctx.needs_input_grad[0] else None
        gb = sum_to_size(_scaled(grad, ctx.alpha), b_shape) if ctx.needs_input_grad[1] else None
        return ga, gb, None


class Sub(Function):
    """self - alpha * other."""

    @staticmethod
    def forward(a, b, alpha):
        return ops.sub(a, b, alpha)

    @staticmethod
    def setup_context(ctx, inputs, output):
        a, b, ctx.alpha = inputs
        ctx.shapes = (a.shape, b.shape)

    @staticmethod
    def backward(ctx, grad):
        a_shape, b_shape = ctx.shapes
        ga = sum_to_size(grad, a_shape) if ctx.needs_input_grad[0] else None
        gb = sum_to_size(MulScalar.apply(grad, -ctx.alpha), b_shape) if ctx.needs_input_grad[1] else None
        return ga, gb, None


class Mul(Function):
    @staticmethod
    def forward(a, b):
        return ops.mul(a, b)

    @staticmethod
    def setup_context(ctx, inputs, output):
        a, b = inputs
        ctx.shapes = (a.shape, b.shape)
        # Each gradient needs the other operand.
        ctx.save_for_backward(a if ctx.needs_input_grad[1] else None, b if ctx.needs_input_grad[0] else None)

    @staticmethod
    def backward(ctx, grad):
        a, b = ctx.saved_tensors
        a_shape, b_shape = ctx.shapes
        ga = sum_to_size(Mul.apply(grad, b), a_shape) if ctx.needs_input_grad[0] else None
        gb = sum_to_size(Mul.apply(grad, a), b_shape) if ctx.needs_input_grad[1] else None
        return ga, gb


class AddScalar(Function):
    """self + alpha * other, other a number."""

    @staticmethod
    def forward(x, other, alpha):
        return ops.add_scalar(x, other, alpha)

    @staticmethod
    def setup_context(ctx, inputs, output):
        pass

    @staticmethod
    def backward(ctx, grad):
        return grad, None, None


class RSubScalar(Function):
    """other - alpha * self, other a number."""

    @staticmethod
    def forward(x, other, alpha):
        return ops.rsub_scalar(x, other, alpha)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.alpha = inputs[2]

    @staticmethod
    def backward(ctx, grad):
        return MulScalar.apply(grad, -ctx.alpha), None, None


class MulScalar(Function):
    @staticmethod
    def forward(x, other):
        return ops.mul_scalar(x, other)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.other = inputs[1]

    @staticmethod
    def backward(ctx, grad):
        return MulScalar.apply(grad, ctx.other), None


class PowScalar(Function):
    """self ** exponent. d/dx = exponent * x**(exponent - 1), computed as native does
    (grad * (exponent * x.pow(exponent - 1))); exponent 0 has a zero gradient."""

    @staticmethod
    def forward(x, exponent):
        return ops.pow_scalar(x, exponent)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.exponent = inputs[1]
        ctx.save_for_backward(inputs[0])

    @staticmethod
    def backward(ctx, grad):
        (x,) = ctx.saved_tensors
        e = ctx.exponent
        if e == 0:
            return torch.zeros_like(x), None
        return Mul.apply(grad, MulScalar.apply(PowScalar.apply(x, e - 1), e)), None


class Div(Function):
    """self / other; gradients grad / other and -grad * ((self / other) / other), as native's, with
    self / other taken from the forward and the sign flipped after the reduction (both exact)."""

    @staticmethod
    def forward(a, b):
        return ops.div(a, b)

    @staticmethod
    def setup_context(ctx, inputs, output):
        a, b = inputs
        ctx.shapes = (a.shape, b.shape)
        ctx.save_for_backward(output if ctx.needs_input_grad[1] else None, b)

    @staticmethod
    def backward(ctx, grad):
        out, b = ctx.saved_tensors
        a_shape, b_shape = ctx.shapes
        ga = sum_to_size(Div.apply(grad, b), a_shape) if ctx.needs_input_grad[0] else None
        gb = None
        if ctx.needs_input_grad[1]:
            gb = MulScalar.apply(sum_to_size(Mul.apply(grad, Div.apply(out, b)), b_shape), -1)
        return ga, gb


class DivScalar(Function):
    """self / other, other a number (a true division, as native)."""

    @staticmethod
    def forward(x, other):
        return ops.div_scalar(x, other)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.other = inputs[1]

    @staticmethod
    def backward(ctx, grad):
        return DivScalar.apply(grad, ctx.other), None


class RDivScalar(Function):
    """other / self, other a number; d/dself = -other / self**2 = -result / self."""

    @staticmethod
    def forward(x, other):
        return ops.rdiv_scalar(x, other)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.save_for_backward(inputs[0], output)

    @staticmethod
    def backward(ctx, grad):
        x, out = ctx.saved_tensors
        return Mul.apply(grad, MulScalar.apply(Div.apply(out, x), -1)), None


def _pow_backward(grad, a, b, result, k):
    """pow_backward's k-th gradient alone: grad * b * a**(b - 1) (k = 0) or grad * result * log(a)
    (k = 1), result being a ** b."""
    mask = [k == 0, k == 1]
    return backward_call(PowBackward, ops.pow_backward.default)(grad, a, b, result, mask)[k]


class PowBackward(Function):
    """Both gradients of a ** b over the broadcast shape: ga = grad * b * a**(b-1) and
    gb = grad * r * log(a), r = a ** b (the result, whose own dependence on a and b is counted
    here: it gets no gradient). With gg_a, gg_b their gradients and t_a = grad * gg_a,
    t_b = grad * gg_b:
      d grad = pow_backward(gg_a)'s ga + pow_backward(gg_b)'s gb
      d a    = t_a * b * (b-1) * a**(b-2) + m(t_b)     (pow_backward at exponent b - 1)
      d b    = m(t_a) + t_b * r * log(a)**2             (gb, then gb at exponent 0: times log a)
    with m(t) = t * p + b * (t * p * log a), p = a ** (b-1), the mixed derivative. At a == 0 the
    log factors are pow_backward's (0 where the exponent is >= 0)."""

    @staticmethod
    def forward(grad, a, b, result, mask):
        return ops.pow_backward.default(grad, a, b, result, mask)

    @staticmethod
    def setup_context(ctx, inputs, output):
        ctx.set_materialize_grads(False)
        ctx.save_for_backward(*inputs[:4])

    @staticmethod
    def backward(ctx, gg_a, gg_b):
        grad, a, b, r = ctx.saved_tensors
        needs = ctx.needs_input_grad
        d_grad = d_a = d_b = None
        if needs[0]:
            d_grad = _sum([_pow_backward(gg, a, b, r, k) for k, gg in enumerate((gg_a, gg_b)) if gg is not None],
                          grad.shape)
        if needs[1] or needs[2]:
            t_a = None if gg_a is None else Mul.apply(grad, gg_a)
            t_b = None if gg_b is None else Mul.apply(grad, gg_b)
            b1 = AddScalar.apply(b, -1, 1)
            p = Pow.apply(a, b1)

            def mixed(t):
                return Add.apply(Mul.apply(t, p), Mul.apply(b, _pow_backward(t, a, b1, p, 1)), 1)
            if needs[1]:
                terms = [] if t_a is None else [_pow_backward(Mul.apply(t_a, b), a, b1, p, 0)]
                terms += [] if t_b is None else [mixed(t_b)]
                d_a = _sum(terms, a.shape)
            if needs[2]:
                terms = [] if t_a is None else [mixed(t_a)]
                if t_b is not None:
                    zero = torch.zeros_like(b)
                    terms.append(_pow_backward(_pow_backward(t_b, a, b, r, 1), a, zero, Pow.apply(a, zero), 1))
                d_b = _sum(terms, b.shape)
        return d_grad, d_a, d_b, None, None


def _sum(terms, shape):
    """The terms' sum (over the broadcast shape) reduced to an operand's shape."""
    if not terms:
        return None
    return sum_to_size(terms[0] if len(terms) == 1 else Add.apply(terms[0], terms[1], 1), shape)


class Pow(Function):
    """self ** exponent, both tensors (broadcasting, float32/float64 promotion)."""

    @staticmethod
    def forward(a, b):
        return ops.pow(a, b)

    @staticmethod
    def setup_context(ctx, inputs, output):
        a, b = inputs
        ctx.shapes = (a.shape, b.shape)
        ctx.save_for_backward(a, b, output)

    @staticmethod
    def backward(ctx, grad):
        a, b, out = ctx.saved_tensors
        a_shape, b_shape = ctx.shapes
        mask = list(ctx.needs_input_grad[:2])
        ga, gb = backward_call(PowBackward, ops.pow_backward.default)(grad, a, b, out, mask)
        return (sum_to_size(ga, a_shape) if mask[0] else None,
                sum_to_size(gb, b_shape) if mask[1] else None)


def _number(op, name, value):
    """A real Python number as the dispatcher's Scalar (bool, int or float)."""
    if isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    raise TypeError(f"torchext.{op}: expected {name} to be a Tensor or a real number, "
                    f"but got {type(value).__name__}")


def _alpha(op, alpha):
    """alpha as a Scalar for float results: a bool or complex alpha raises RuntimeError, as native."""
    if isinstance(alpha, bool):
        raise RuntimeError(f"torchext.{op}: Boolean alpha only supported for Boolean results, but got alpha={alpha}")
    if isinstance(alpha, complex):
        raise RuntimeError(f"torchext.{op}: for non-complex input tensors, argument alpha must not be a "
                           f"complex number, but got alpha={alpha}")
    return _number(op, "alpha", alpha)


def _no_tensor(op, input, other):
    return TypeError(f"torchext.{op}: expected input or other to be a Tensor, but got "
                     f"{type(input).__name__} and {type(other).__name__}")


def add(input, other, *, alpha=1):
    """torch.add: input + alpha * other; either operand may be a number."""
    alpha = _alpha("add", alpha)
    if isinstance(input, torch.Tensor):
        if isinstance(other, torch.Tensor):
            return Add.apply(input, other, alpha)
        return AddScalar.apply(input, _number("add", "other", other), alpha)
    if isinstance(other, torch.Tensor):  # number + alpha * tensor
        return RSubScalar.apply(other, _number("add", "input", input), -alpha)
    raise _no_tensor("add", input, other)


def sub(input, other, *, alpha=1):
    """torch.sub: input - alpha * other; either operand may be a number."""
    alpha = _alpha("sub", alpha)
    if isinstance(input, torch.Tensor):
        if isinstance(other, torch.Tensor):
            return Sub.apply(input, other, alpha)
        return AddScalar.apply(input, _number("sub", "other", other), -alpha)
    if isinstance(other, torch.Tensor):  # number - alpha * tensor
        return RSubScalar.apply(other, _number("sub", "input", input), alpha)
    raise _no_tensor("sub", input, other)


def _check_rsub_operands(input, other):
    """The sub op sees rsub's operands the other way round (self = other), so its errors would
    name the wrong one: rsub checks them first."""
    for name, t in (("input", input), ("other", other)):
        if not t.is_floating_point():
            raise RuntimeError(f"torchext.rsub: expected {name} to be a floating-point tensor but got {t.dtype}")
    same_device("rsub", [("input", input), ("other", other)], cpu_scalars=True)
    try:
        torch.broadcast_shapes(input.shape, other.shape)
    except RuntimeError:
        raise RuntimeError(f"torchext.rsub: input of shape {list(input.shape)} and other of shape "
                           f"{list(other.shape)} cannot be broadcast together") from None


def rsub(input, other, *, alpha=1):
    """torch.rsub: other - alpha * input (so `3 - x` is rsub(x, 3))."""
    alpha = _alpha("rsub", alpha)
    if isinstance(input, torch.Tensor):
        if isinstance(other, torch.Tensor):
            _check_rsub_operands(input, other)
            return Sub.apply(other, input, alpha)
        return RSubScalar.apply(input, _number("rsub", "other", other), alpha)
    if isinstance(other, torch.Tensor):  # tensor - alpha * number
        return AddScalar.apply(other, _number("rsub", "input", input), -alpha)
    raise _no_tensor("rsub", input, other)


def mul(input, other):
    """torch.mul; either operand may be a number."""
    if isinstance(input, torch.Tensor):
        if isinstance(other, torch.Tensor):
            return Mul.apply(input, other)
        return MulScalar.apply(input, _number("mul", "other", other))
    if isinstance(other, torch.Tensor):
        return MulScalar.apply(other, _number("mul", "input", input))
    raise _no_tensor("mul", input, other)


def pow(input, exponent):
    """torch.pow with a tensor base and a real-number or tensor exponent (a number base is not
    supported and raises TypeError)."""
    if not isinstance(input, torch.Tensor):
        raise TypeError("torchext.pow: only a Tensor base is supported, "
                        f"but got input {type(input).__name__} and exponent {type(exponent).__name__}")
    if isinstance(exponent, torch.Tensor):
        return Pow.apply(input, exponent)
    return PowScalar.apply(input, _number("pow", "exponent", exponent))


def div(input, other, *, rounding_mode=None):
    """torch.div (true division); either operand may be a number. rounding_mode 'trunc' and
    'floor' are not supported and raise NotImplementedError."""
    if rounding_mode is not None:
        if rounding_mode not in ("trunc", "floor"):
            raise RuntimeError("torchext.div: expected rounding_mode to be one of None, 'trunc', or 'floor' "
                             f"but found '{rounding_mode}'")
        raise NotImplementedError(f"torchext.div: rounding_mode='{rounding_mode}' is not supported "
                                  "(only true division, rounding_mode=None)")
    if isinstance(input, torch.Tensor):
        if isinstance(other, torch.Tensor):
            return Div.apply(input, other)
        return DivScalar.apply(input, _number("div", "other", other))
    if isinstance(other, torch.Tensor):  # number / tensor
        return RDivScalar.apply(other, _number("div", "input", input))
    raise _no_tensor("div", input, other)
