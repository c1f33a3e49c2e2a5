"""Shared test fixtures: the device parametrization and tolerances per dtype."""
import pytest
import torch

import torchext

CUDA_OK = torch.cuda.is_available() and torchext.HAS_CUDA_KERNELS
CUDA_SKIP_REASON = (
    "no CUDA device" if not torch.cuda.is_available() else "torchext was built without CUDA kernels"
)

DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(not CUDA_OK, reason=CUDA_SKIP_REASON)),
]

# Tolerances for parity with native ops (rtol, atol), by dtype.
TOL = {
    torch.float64: (1e-10, 1e-10),
    torch.float32: (1e-5, 1e-5),
    torch.float16: (2e-3, 2e-3),
    torch.bfloat16: (1.6e-2, 1e-2),
}


@pytest.fixture(params=DEVICES)
def device(request):
    return request.param


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)
