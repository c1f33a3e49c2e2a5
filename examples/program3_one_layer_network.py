"""Program 3 of the autograd tutorial: a one-layer network with a logistic loss, on torchext
kernels.

    python examples/program3_one_layer_network.py
"""
import torch

import torchext


def run():
    torch.manual_seed(0)
    x = torch.ones(5)                          # input tensor
    y = torch.zeros(3)                         # expected output
    w = torch.randn(5, 3, requires_grad=True)
    b = torch.randn(3, requires_grad=True)
    z = torch.matmul(x, w) + b                 # 1-D @ 2-D, broadcast add
    loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
    loss.backward()
    with torch.no_grad():
        z_no_grad = torch.matmul(x, w) + b
    z_det = (torch.matmul(x, w) + b).detach()
    return {"z": z, "loss": loss, "w.grad": w.grad, "b.grad": b.grad,
            "z.grad_fn": type(z.grad_fn).__name__, "loss.grad_fn": type(loss.grad_fn).__name__,
            "no_grad z.requires_grad": z_no_grad.requires_grad,
            "z_det.requires_grad": z_det.requires_grad}


if __name__ == "__main__":
    with torchext.enable():
        for name, value in run().items():
            print(f"{name}: {value}")
