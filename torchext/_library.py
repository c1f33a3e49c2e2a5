"""Loads the compiled extension (which registers every torchext op with the dispatcher)."""
import torch

from . import _C  # noqa: F401  (imported for its registrations)

ops = torch.ops.torchext

HAS_CUDA_KERNELS = torch._C._dispatch_has_kernel_for_dispatch_key("torchext::add", "CUDA")
