"""Program 1 of the autograd tutorial: one training step of ResNet18, on torchext kernels.

    python examples/program1_resnet18_step.py
"""
import torch
from torchvision.models import ResNet18_Weights, resnet18

import torchext


def pretrained_weights_cached():
    """True when the DEFAULT weights are in torch hub's cache (they cannot be downloaded here)."""
    url = ResNet18_Weights.DEFAULT.url
    path = torch.hub.get_dir() + "/checkpoints/" + url.rsplit("/", 1)[-1]
    try:
        open(path, "rb").close()
        return True
    except OSError:
        return False


def build_model(seed=0):
    """ResNet18 with the pretrained weights when cached, else weights=None with a fixed seed."""
    torch.manual_seed(seed)
    if pretrained_weights_cached():
        return resnet18(weights=ResNet18_Weights.DEFAULT), "pretrained (ResNet18_Weights.DEFAULT)"
    return resnet18(weights=None), f"random (weights=None, seed {seed}): no pretrained weights cached"


def run(model, optimizer_class, batch=1, size=64, seed=0, dtype=torch.float32):
    """The tutorial's step; returns prediction, loss, the gradients and the updated weights."""
    generator = torch.Generator().manual_seed(seed)
    data = torch.rand(batch, 3, size, size, generator=generator).to(dtype)
    labels = torch.rand(batch, 1000, generator=generator).to(dtype)
    prediction = model(data)                   # forward pass
    loss = (prediction - labels).sum()
    loss.backward()                            # backward pass
    optim = optimizer_class(model.parameters(), lr=1e-2, momentum=0.9)
    optim.step()                               # gradient descent
    return {"prediction": prediction.detach(), "loss": loss.detach(),
            "grads": {n: p.grad for n, p in model.named_parameters()},
            "weights": {n: p.detach() for n, p in model.named_parameters()}}


if __name__ == "__main__":
    model, source = build_model()
    print("weights:", source)
    torchext.patch(model)
    result = run(model, torchext.optim.SGD)
    print("loss:", result["loss"].item())
    print("prediction[0, :5]:", result["prediction"][0, :5])
