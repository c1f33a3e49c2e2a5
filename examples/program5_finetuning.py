"""Program 5 of the autograd tutorial: requires_grad propagation, a frozen backbone and a new
classifier, on torchext kernels.

    python examples/program5_finetuning.py
"""
import contextlib

import torch
from torch import nn

import torchext
from program1_resnet18_step import build_model


def run(patch=True, seed=0):
    torch.manual_seed(seed)
    x = torch.rand(5, 5)
    y = torch.rand(5, 5)
    z = torch.rand((5, 5), requires_grad=True)
    with torchext.enable() if patch else contextlib.nullcontext():
        x_plus_y = x + y
        x_plus_z = x + z
    model, _ = build_model(seed)
    for param in model.parameters():
        param.requires_grad = False            # freeze everything
    model.fc = nn.Linear(512, 10)              # new classifier, trainable
    if patch:
        torchext.patch(model)
    optimizer_class = torchext.optim.SGD if patch else torch.optim.SGD
    optimizer = optimizer_class(model.parameters(), lr=1e-2, momentum=0.9)
    data = torch.rand(2, 3, 64, 64, generator=torch.Generator().manual_seed(seed))
    loss = model(data).sum()
    loss.backward()
    optimizer.step()
    return {"(x + y).requires_grad": x_plus_y.requires_grad,
            "(x + z).requires_grad": x_plus_z.requires_grad,
            "loss": loss.detach(),
            "params with a gradient": [n for n, p in model.named_parameters() if p.grad is not None],
            "fc.weight after the step": model.fc.weight.detach()}


if __name__ == "__main__":
    for name, value in run().items():
        print(f"{name}: {value}")
