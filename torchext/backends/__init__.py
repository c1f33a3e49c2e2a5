"""Backend settings (as torch.backends): torchext.backends.cpu chooses the CPU kernels' instruction set
and how convolutions run (Winograd or direct)."""
from . import cpu

__all__ = ["cpu"]
