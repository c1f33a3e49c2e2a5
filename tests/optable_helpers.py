"""Building the op table's samples for a test, and recording the torchext ops they call."""
import functools

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils._pytree import tree_map

from torchext.optable import BY_NAME, OPS, maker

FLOAT64_CPU = maker(torch.float64, "cpu")


def differentiable(sample):
    """Whether some input of the sample has elements and needs grad."""
    return any(isinstance(a, torch.Tensor) and a.requires_grad and a.numel() for a in sample.args)


def sample_ids(differentiable_only=False):
    """(op name, sample index) for every sample of every entry (or those with something to
    differentiate), with test ids."""
    params, ids = [], []
    for entry in OPS:
        for i, sample in enumerate(entry.samples(FLOAT64_CPU)):
            if differentiable_only and not differentiable(sample):
                continue
            params.append((entry.name, i))
            ids.append(f"{entry.name}-{sample.name}")
    return params, ids


def build(name, index, dtype, device, seed=0):
    """The index-th sample of op `name`: the same values and strides on every call with one seed."""
    torch.manual_seed(seed)
    return BY_NAME[name].samples(maker(dtype, device))[index]


def run(name, sample, fn_of_entry=lambda entry: entry.op):
    entry = BY_NAME[name]
    return entry.call(fn_of_entry(entry))(*sample.args, **sample.kwargs)


def _same_strides_copy(x):
    """A detached copy with x's strides (clone would make a non-dense view contiguous)."""
    if not isinstance(x, torch.Tensor):
        return x
    return torch.empty_strided(x.shape, x.stride(), dtype=x.dtype, device=x.device).copy_(x.detach())


class TorchextCalls(TorchDispatchMode):
    """Records (op overload, args, kwargs) of every torchext op, with its inputs copied before it
    runs (an in-place op changes them)."""

    def __init__(self):
        super().__init__()
        self.calls = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func.namespace == "torchext":
            self.calls.append((func, tree_map(_same_strides_copy, args), tree_map(_same_strides_copy, kwargs)))
        return func(*args, **kwargs)


@functools.lru_cache(maxsize=None)
def recorded_calls(name, device):
    """Every torchext op call made by op `name`'s samples, forward and backward (float64)."""
    entry = BY_NAME[name]
    recorder = TorchextCalls()
    for index in range(len(entry.samples(FLOAT64_CPU))):
        sample = build(name, index, torch.float64, device)
        with recorder:
            outs = run(name, sample)
            outs = outs if isinstance(outs, (tuple, list)) else (outs,)
            leaves = [a for a in sample.args if isinstance(a, torch.Tensor) and a.requires_grad]
            diff = [o for o in outs if o.requires_grad]
            if leaves and diff:
                torch.autograd.grad(diff, leaves, [torch.ones_like(o) for o in diff], allow_unused=True)
    return recorder.calls


def _signature(value):
    if isinstance(value, torch.Tensor):
        return ("tensor", tuple(value.shape), value.stride(), value.dtype)
    if isinstance(value, (list, tuple)):
        return tuple(_signature(v) for v in value)
    return repr(value)


def distinct_calls(name, device, op_name, limit):
    """Up to `limit` calls of torch.ops.torchext.<op_name> by op `name`, no two alike in shapes,
    strides, dtypes and other arguments."""
    seen, picked = set(), []
    for func, args, kwargs in recorded_calls(name, device):
        key = _signature((args, sorted(kwargs.items())))
        if func._schema.name == f"torchext::{op_name}" and key not in seen:
            seen.add(key)
            picked.append((func, args, kwargs))
    return picked[:limit]
