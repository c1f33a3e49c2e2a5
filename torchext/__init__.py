"""torchext: our own C++/CUDA kernels for the ops of the PyTorch autograd tutorials, each behind a
torch.autograd.Function, so that the stock autograd engine drives backward through them."""
from ._library import HAS_CUDA_KERNELS, ops
from . import backends, functional
from . import nn, optim
from .mode import enable
from .patch import PatchReport, patch, unpatch

__all__ = ["backends", "functional", "enable", "nn", "optim", "patch", "unpatch", "PatchReport", "ops", "HAS_CUDA_KERNELS"]

# Settles the CPU capability now, so that a bad TORCHEXT_CPU_CAPABILITY fails the import, not the
# first op.
backends.cpu.capability()
