"""Timing of a training step's phases (forward, backward, optimizer step), shared by the demo
and the benchmarks. CPU work is synchronous; on CUDA every phase is synchronized."""
import statistics
import time

import torch


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def time_training_step(model, optimizer, data, labels, reps=10, warmup=2):
    """Runs the tutorial step reps times after warmup; returns, per phase and for the whole step,
    (median, first quartile, third quartile) in milliseconds."""
    phases = {"forward": [], "backward": [], "step": [], "total": []}
    for i in range(warmup + reps):
        optimizer.zero_grad(set_to_none=True)
        _sync(data.device)
        t0 = time.perf_counter()
        loss = (model(data) - labels).sum()
        _sync(data.device)
        t1 = time.perf_counter()
        loss.backward()
        _sync(data.device)
        t2 = time.perf_counter()
        optimizer.step()
        _sync(data.device)
        t3 = time.perf_counter()
        if i >= warmup:
            for name, value in (("forward", t1 - t0), ("backward", t2 - t1), ("step", t3 - t2),
                                ("total", t3 - t0)):
                phases[name].append(value * 1e3)
    return {name: summarize(values) for name, values in phases.items()}


def summarize(values):
    """(median, q1, q3) of a list of timings."""
    if len(values) < 2:
        return (values[0], values[0], values[0])
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return (median, q1, q3)
