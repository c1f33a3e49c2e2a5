"""The double backward of batch_norm and layer_norm (native's batchnorm_double_backward and
layer_norm_double_backward, in one form), on torchext's differentiable element-wise ops and sums.

With x the input, mu and s = 1/sqrt(var + eps) its statistics over the reduced dims (n values
each), xmu = x - mu and A(v) = s/n * (n*v - sum(v) - xmu * s**2 * sum(v * xmu)) (sums over the
reduced dims), the first backward is grad_input = A(grad * gamma), grad_weight = the sum over the
parameter's broadcast dims of grad * xmu * s, grad_bias that of grad. A is symmetric, so given
gradients gg_input, gg_weight, gg_bias of those: d grad = gamma * A(gg_input) + gg_weight * xmu * s
+ gg_bias, d weight = the sum of grad * A(gg_input), and d input = A(grad * gg_weight) plus the
derivative of A itself (native's three terms). With statistics that are constants (batch_norm in
eval) A(v) is s * v and A has no derivative.

Where a third derivative may follow (grad mode on), mu and s are recomputed from the input on
these ops, so they are differentiable functions of it (s as (var + c)**-0.5 with the constant
c = 1/s**2 - var, eps to rounding: the backward ops are not given eps); otherwise the saved ones
are used."""
import torch

from .elementwise import add, mul, pow, sub
from .reduction import Expand, Mean, Sum


class Statistics:
    """The input's mean and 1/sqrt(var + eps) over `reduced` (keepdim), and the sums there;
    constant: the statistics are not the input's (batch_norm in eval)."""

    def __init__(self, input, mean, invstd, reduced, differentiable, constant=False):
        self.reduced, self.constant = reduced, constant
        self.n = 1
        for d in reduced:
            self.n *= input.shape[d]
        if differentiable:
            mean = Mean.apply(input, reduced, True, None)
            var = Mean.apply(pow(sub(input, mean), 2), reduced, True, None)
            with torch.no_grad():
                eps = sub(pow(invstd, -2), var)
            invstd = pow(add(var, eps), -0.5)
        self.xmu = sub(input, mean)
        self.s = invstd

    def sum(self, v):
        return Sum.apply(v, self.reduced, True, None)

    def project(self, v):
        """A(v) above."""
        n, s, xmu = self.n, self.s, self.xmu
        if self.constant:
            return mul(v, s)
        centred = sub(sub(mul(v, n), self.sum(v)), mul(mul(xmu, pow(s, 2)), self.sum(mul(v, xmu))))
        return mul(mul(s, 1.0 / n), centred)


def _plus(a, b):
    return b if a is None else a if b is None else add(a, b)


def double_backward(stats, grad, weight, grads, shape, param_dims, needs):
    """(d grad, d input, d weight) for the statistics `stats` (a Statistics). weight: None when
    not affine; grads: (gg_input, gg_weight, gg_bias), None where not needed; shape: the
    parameters' shape broadcasting against the input; param_dims: the dims a parameter's gradient
    sums over; needs: whether grad, input, weight need one."""
    gg_input, gg_weight, gg_bias = grads
    gamma_shape = None if weight is None else weight.shape
    gamma = None if weight is None else weight.reshape(shape)
    gg_weight = None if gg_weight is None else gg_weight.reshape(shape)
    gg_bias = None if gg_bias is None else gg_bias.reshape(shape)
    n, s, xmu = stats.n, stats.s, stats.xmu
    d_grad = d_input = d_weight = None
    if needs[0]:
        if gg_input is not None:
            d_grad = stats.project(gg_input)
            d_grad = d_grad if gamma is None else mul(d_grad, gamma)
        if gg_weight is not None:
            d_grad = _plus(d_grad, mul(mul(gg_weight, xmu), s))
        d_grad = _plus(d_grad, gg_bias)
        if d_grad is not None and d_grad.shape != grad.shape:  # gg_bias alone
            d_grad = Expand.apply(d_grad, grad.shape)
    if needs[1]:
        if gg_input is not None and not stats.constant:
            g = grad if gamma is None else mul(grad, gamma)
            s3 = pow(s, 3)
            g_sum, gg_sum = stats.sum(g), stats.sum(gg_input)
            g_xmu_sum, gg_xmu_sum = stats.sum(mul(g, xmu)), stats.sum(mul(gg_input, xmu))
            all_sub = add(sub(mul(mul(gg_sum, g_sum), 1.0 / n), stats.sum(mul(gg_input, g))),
                          mul(mul(mul(pow(s, 2), g_xmu_sum), gg_xmu_sum), 3.0 / n))
            t0 = mul(mul(mul(xmu, s3), all_sub), 1.0 / n)
            t1 = mul(mul(mul(gg_xmu_sum, s3), 1.0 / n), sub(mul(g_sum, 1.0 / n), g))
            t2 = mul(mul(mul(g_xmu_sum, s3), 1.0 / n), sub(mul(gg_sum, 1.0 / n), gg_input))
            d_input = add(add(t0, t1), t2)
        if gg_weight is not None:
            d_input = _plus(d_input, stats.project(mul(grad, gg_weight)))
    if needs[2] and gamma is not None and gg_input is not None:
        d_weight = mul(grad, stats.project(gg_input))
        if param_dims:
            d_weight = Sum.apply(d_weight, param_dims, True, None)
        d_weight = d_weight.reshape(gamma_shape)
    return d_grad, d_input, d_weight
