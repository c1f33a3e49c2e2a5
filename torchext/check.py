"""`python -m torchext check`: gradcheck (float64), and gradgradcheck where the op's backward is
differentiable, on every sample input of the op table; one progress line per op. Exit status 1 if
any check fails."""
import sys
import time

import torch
from torch.autograd import gradcheck, gradgradcheck

from .optable import OPS, maker


def _differentiable(sample):
    return any(isinstance(a, torch.Tensor) and a.requires_grad and a.numel() for a in sample.args)


def check_op(entry):
    """Checks every differentiable sample of one table entry. Returns (samples checked, the first
    failure's description or None)."""
    fn = entry.call(entry.op)
    samples = [s for s in entry.samples(maker(torch.float64, "cpu")) if _differentiable(s)]
    for sample in samples:
        def call(*args, kwargs=sample.kwargs):
            return fn(*args, **kwargs)
        try:
            ok = gradcheck(call, tuple(sample.args)) and (
                not entry.gradgrad or gradgradcheck(call, tuple(sample.args)))
        except Exception as error:  # a failed check is reported, not raised
            return len(samples), f"{sample.name}: {str(error).splitlines()[0][:100]}"
        if not ok:
            return len(samples), f"{sample.name}: check returned False"
    return len(samples), None


def run_checks(out=sys.stdout):
    """Checks every op; returns the number of ops that failed."""
    torch.manual_seed(0)
    failures = 0
    width = max(len(entry.name) for entry in OPS)
    for i, entry in enumerate(OPS, 1):
        start = time.perf_counter()
        count, failure = check_op(entry)
        failures += failure is not None
        kind = "gradcheck + gradgradcheck" if entry.gradgrad else "gradcheck"
        status = f"ok   {kind}" if failure is None else f"FAIL {failure}"
        elapsed = time.perf_counter() - start
        print(f"[{i:2d}/{len(OPS)}] {entry.name:<{width}}  {count:2d} samples  {status}  ({elapsed:.2f} s)",
              file=out, flush=True)
    print(f"gradcheck: {len(OPS) - failures} ops passed, {failures} failed", file=out)
    return failures


def main():
    return 1 if run_checks() else 0
