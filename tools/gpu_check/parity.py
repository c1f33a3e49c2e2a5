"""Parity of the CUDA kernels with native CUDA torch: the emulator's checks
(tools/cuda_emulator/check.py) run as they are, on CUDA tensors, against torch.ops.torchext:
float64/float32 tightly, float16/bfloat16 within half tolerances, SGD bit for bit against
torch.optim.SGD(foreach=False) on CUDA, and the sizes past the grid limits.

Usage: python tools/gpu_check/parity.py  (exit status 1 on any mismatch)"""
import os
import sys

import torch

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "cuda_emulator"))
import check  # noqa: E402

import torchext  # noqa: E402


def main():
    # Every tensor the checks create (inputs, native references, the SGD parameters) is on CUDA.
    torch.set_default_device("cuda")
    torch.manual_seed(0)
    check.check_full_precision(torchext.ops)
    check.check_half_precision(torchext.ops)
    check.check_large_grids(torchext.ops)
    torch.cuda.synchronize()
    print(f"parity on {torch.cuda.get_device_name()}: {len(check.FAILS)} mismatches")
    for name in check.FAILS:
        print("  ", name)
    return 1 if check.FAILS else 0


if __name__ == "__main__":
    sys.exit(main())
