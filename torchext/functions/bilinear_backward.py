"""The double backward of an op that is linear in its input and linear in its weight, plus a bias
(conv2d, linear). Its backward op maps (grad, input, weight) to (grad_input, grad_weight,
grad_bias): grad_input is bilinear in (grad, weight), grad_weight in (grad, input), grad_bias linear
in grad. So, given gradients gg_input, gg_weight, gg_bias of those three outputs:
  d/d grad   = op(gg_input, weight, gg_bias) + op(input, gg_weight)
  d/d input  = the backward op's grad_input of (grad, gg_weight)
  d/d weight = the backward op's grad_weight of (grad, gg_input)
each computed by the differentiable forward Function and backward Function, so every order of
derivative is again these two ops."""
from .elementwise import add
from .reduction import Expand


def double_backward(forward, backward, saved, grads, needs, bias_shape):
    """forward(input, weight, bias) and backward(grad, input, weight, mask): the op's Functions
    with its other arguments bound; saved: (grad, input, weight); grads: (gg_input, gg_weight,
    gg_bias), None where not needed; needs: whether grad, input, weight need a gradient;
    bias_shape: the bias's shape as it broadcasts against the output (to expand gg_bias alone)."""
    grad, input, weight = saved
    gg_input, gg_weight, gg_bias = grads
    d_grad = d_input = d_weight = None
    if needs[0]:
        terms = []
        if gg_input is not None:
            terms.append(forward(gg_input, weight, gg_bias))
            gg_bias = None
        if gg_weight is not None:
            terms.append(forward(input, gg_weight, gg_bias))
            gg_bias = None
        if gg_bias is not None:
            terms.append(Expand.apply(gg_bias.reshape(bias_shape), grad.shape))
        if terms:
            d_grad = terms[0] if len(terms) == 1 else add(terms[0], terms[1])
    if needs[1] and gg_weight is not None:
        d_input = backward(grad, input, gg_weight, [True, False, False])[0]
    if needs[2] and gg_input is not None:
        d_weight = backward(grad, gg_input, weight, [False, True, False])[1]
    return d_grad, d_input, d_weight
