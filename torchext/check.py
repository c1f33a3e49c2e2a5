"""`python -m torchext check`: gradcheck (float64) every torchext op at small shapes, with a
progress display. Exit status 1 if any check fails."""
import sys
import time
from dataclasses import dataclass
from typing import Callable

import torch
from torch.autograd import gradcheck, gradgradcheck

from . import functional as F


@dataclass
class Case:
    name: str
    fn: Callable
    make_inputs: Callable[[], tuple]
    gradgrad: bool = True


def _t(*shape, positive=False, away_from_zero=False):
    x = torch.randn(*shape, dtype=torch.float64)
    if positive:
        x = x.abs() + 0.5
    if away_from_zero:
        x = x + 0.2 * x.sign()
    return x.requires_grad_()


def cases():
    return [
        Case("add (broadcast, alpha)", lambda a, b: F.add(a, b, alpha=0.5), lambda: (_t(3, 1, 4), _t(2, 4))),
        Case("sub (broadcast, alpha)", lambda a, b: F.sub(a, b, alpha=2), lambda: (_t(3, 4), _t(4))),
        Case("mul (broadcast)", F.mul, lambda: (_t(2, 3, 1), _t(3, 5))),
        Case("add/mul with a scalar", lambda a: F.mul(F.add(a, 2.5), -3), lambda: (_t(4, 3),)),
        Case("rsub with a scalar", lambda a: F.rsub(a, 1.5), lambda: (_t(5),)),
        Case("pow 3", lambda a: F.pow(a, 3), lambda: (_t(3, 4),)),
        Case("pow -1.5", lambda a: F.pow(a, -1.5), lambda: (_t(3, 4, positive=True),)),
        Case("pow 0.5", lambda a: F.pow(a, 0.5), lambda: (_t(6, positive=True),)),
        Case("relu", F.relu, lambda: (_t(3, 4, away_from_zero=True),)),
        Case("sum all", F.sum, lambda: (_t(3, 4),)),
        Case("sum dims keepdim", lambda a: F.sum(a, (0, 2), keepdim=True), lambda: (_t(2, 3, 4),)),
        Case("matmul 1-D @ 2-D", F.matmul, lambda: (_t(5), _t(5, 3))),
        Case("matmul batched broadcast", F.matmul, lambda: (_t(2, 1, 3, 4), _t(3, 4, 2))),
        Case("t / transpose / flatten",
             lambda a: F.flatten(F.transpose(F.t(a), 0, 1), 0), lambda: (_t(3, 4),)),
        Case("binary_cross_entropy_with_logits",
             lambda x, y, w, pw: F.binary_cross_entropy_with_logits(x, y, w, pos_weight=pw),
             lambda: (_t(4, 3), torch.rand(4, 3, dtype=torch.float64, requires_grad=True),
                      _t(3, positive=True).detach(), _t(3, positive=True).detach())),
        Case("conv2d (stride 2, padding, groups, bias)",
             lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, groups=2),
             lambda: (_t(2, 4, 6, 5), _t(6, 2, 3, 3), _t(6)), gradgrad=False),
        Case("conv2d (dilation, 'same')",
             lambda x, w: F.conv2d(x, w, padding="same", dilation=2),
             lambda: (_t(1, 2, 7, 6), _t(3, 2, 2, 3)), gradgrad=False),
        Case("linear", F.linear, lambda: (_t(2, 3, 5), _t(4, 5), _t(4)), gradgrad=False),
        Case("batch_norm (training)",
             lambda x, w, b: F.batch_norm(x, None, None, w, b, training=True),
             lambda: (_t(3, 4, 3, 2), _t(4), _t(4)), gradgrad=False),
        Case("batch_norm (eval)",
             lambda x, w, b, mean, var: F.batch_norm(x, mean, var, w, b),
             lambda: (_t(3, 4, 3, 2), _t(4), _t(4), torch.rand(4, dtype=torch.float64),
                      torch.rand(4, dtype=torch.float64) + 0.5), gradgrad=False),
        Case("max_pool2d (3, 2, 1)", lambda x: F.max_pool2d(x, 3, 2, 1), lambda: (_t(2, 3, 7, 6),), gradgrad=False),
        Case("max_pool2d (ceil_mode, dilation)",
             lambda x: F.max_pool2d(x, 2, 2, 0, dilation=2, ceil_mode=True), lambda: (_t(1, 2, 7, 8),),
             gradgrad=False),
        Case("adaptive_avg_pool2d (3, 2)", lambda x: F.adaptive_avg_pool2d(x, (3, 2)), lambda: (_t(2, 3, 7, 5),),
             gradgrad=False),
        Case("add_relu", F.add_relu, lambda: (_t(2, 3, 4), _t(2, 3, 4))),
    ]


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
        print(f"[{i:2d}/{len(all_cases)}] {case.name:<{width}}  {status}  ({elapsed:.2f} s)", file=out, flush=True)
    print(f"gradcheck: {len(all_cases) - failures} passed, {failures} failed", file=out)
    return failures


def main():
    return 1 if run_checks() else 0
