"""Every op in the registry has a CPU kernel and, when the build compiled CUDA kernels, a CUDA
kernel. Runs without a GPU: it asks the dispatcher, it launches nothing."""
import pytest
import torch

import torchext

OPS = sorted(name for name in torch._C._dispatch_get_all_op_names() if name.startswith("torchext::"))


def test_registry_is_not_empty():
    # The schemas live in extension/registration.cpp; an import that registered nothing would
    # make the checks below vacuous.
    assert "torchext::add" in OPS and "torchext::sgd_step_" in OPS


@pytest.mark.parametrize("op", OPS)
def test_op_has_cpu_kernel(op):
    assert torch._C._dispatch_has_kernel_for_dispatch_key(op, "CPU"), f"{op} has no CPU kernel"


@pytest.mark.skipif(not torchext.HAS_CUDA_KERNELS, reason="torchext was built without CUDA kernels")
@pytest.mark.parametrize("op", OPS)
def test_op_has_cuda_kernel(op):
    assert torch._C._dispatch_has_kernel_for_dispatch_key(op, "CUDA"), f"{op} has no CUDA kernel"
