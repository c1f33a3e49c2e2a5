"""Program 2 of the autograd tutorial: gradients of a tensor expression, on torchext kernels.

    python examples/program2_tensor_gradients.py
"""
import torch

import torchext


def run():
    a = torch.tensor([2., 3.], requires_grad=True)
    b = torch.tensor([6., 4.], requires_grad=True)
    Q = 3 * a**3 - b**2                        # pow by a scalar, mul by a scalar, sub
    external_grad = torch.tensor([1., 1.])
    Q.backward(gradient=external_grad)         # vector-Jacobian product
    a_ok = 9 * a**2 == a.grad
    b_ok = -2 * b == b.grad

    # The variant: z = 6*x**2 - 2*y**3, with an integer external gradient.
    x = torch.tensor([1., 2.], requires_grad=True)
    y = torch.tensor([2., 4.], requires_grad=True)
    z = 6 * x**2 - 2 * y**3
    z.backward(torch.tensor([1, 1]))
    return {"Q": Q, "a.grad": a.grad, "b.grad": b.grad, "9*a**2 == a.grad": a_ok,
            "-2*b == b.grad": b_ok, "z": z, "x.grad": x.grad, "y.grad": y.grad}


if __name__ == "__main__":
    with torchext.enable():
        for name, value in run().items():
            print(f"{name}: {value}")
