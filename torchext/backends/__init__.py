"""Backend settings (as torch.backends): torchext.backends.cpu chooses the CPU kernels' instruction set."""
from . import cpu

__all__ = ["cpu"]
