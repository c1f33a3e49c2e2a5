"""`python -m torchext check`: gradcheck (float64), and gradgradcheck where the op's backward is
differentiable, on every sample input of the op table, with a progress display. Exit status 1 if
any check fails."""
import sys
import time
from dataclasses import dataclass
from typing import Callable

import torch
from torch.autograd import gradcheck, gradgradcheck

from .optable import OPS, maker


@dataclass
class Case:
    name: str
    fn: Callable
    make_inputs: Callable[[], tuple]
    gradgrad: bool = True


def _sample_case(entry, index, sample):
    def make_inputs():
        # The index-th sample of a fresh build (each case gets new leaves, as gradcheck wants).
        return tuple(entry.samples(maker(torch.float64, "cpu"))[index].args)
    fn = entry.call(entry.op)
    kwargs = sample.kwargs
    return Case(f"{entry.name} ({sample.name})", lambda *args: fn(*args, **kwargs), make_inputs,
                entry.gradgrad)


def cases():
    """Every sample of every op in the op table that has an input needing grad."""
    return [_sample_case(entry, i, sample) for entry in OPS
            for i, sample in enumerate(entry.samples(maker(torch.float64, "cpu")))
            if any(isinstance(a, torch.Tensor) and a.requires_grad and a.numel() for a in sample.args)]


def run_checks(out=sys.stdout):
    """Runs every case; returns the number of failures."""
    torch.manual_seed(0)
    all_cases = cases()
    failures = 0
    width = max(len(c.name) for c in all_cases)
    for i, case in enumerate(all_cases, 1):
        start = time.perf_counter()
        inputs = case.make_inputs()
        try:
            ok = gradcheck(case.fn, inputs)
            kind = "gradcheck"
            if case.gradgrad:
                ok = ok and gradgradcheck(case.fn, inputs)
                kind += " + gradgradcheck"
            status = f"ok   {kind}"
        except Exception as error:  # a failed check is reported, not raised
            ok = False
            status = f"FAIL {str(error).splitlines()[0][:100]}"
        failures += not ok
        elapsed = time.perf_counter() - start
        print(f"[{i:3d}/{len(all_cases)}] {case.name:<{width}}  {status}  ({elapsed:.2f} s)", file=out, flush=True)
    print(f"gradcheck: {len(all_cases) - failures} passed, {failures} failed", file=out)
    return failures


def main():
    return 1 if run_checks() else 0
