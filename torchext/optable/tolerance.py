"""Parity tolerances: rtol, and atol per unit of reduction length (the number of terms a result
entry sums; rounding error of a sum grows with it). Float32 ops agree with native to a few ulps per
term; float64 likewise at its own epsilon."""
import torch

RTOL = {torch.float32: 1e-5, torch.float64: 1e-12}
ATOL_PER_TERM = {torch.float32: 2e-6, torch.float64: 4e-15}


def tolerance(dtype, terms=1):
    """(rtol, atol) for results that each sum `terms` products."""
    return RTOL[dtype], ATOL_PER_TERM[dtype] * max(terms, 1)
