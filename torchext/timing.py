"""Timing of a training step's phases (forward, backward, optimizer step), shared by the demo
and the benchmarks. CPU work is synchronous; on CUDA every phase is synchronized."""
import statistics
import time

import torch


def _sync(device):
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize()


def compare_training_steps(setups, data, labels, reps=10, warmup=2):
    """Runs the tutorial step of each {name: (model, optimizer)} reps times after warmup on the same
    data, one step of each per round (so that a change in the machine's load during the run
    reaches all of them alike); returns per name, per phase and for the whole step, (median, first
    quartile, third quartile) in milliseconds."""
    phases = {name: {"forward": [], "backward": [], "step": [], "total": []} for name in setups}
    for i in range(warmup + reps):
        for name, (model, optimizer) in setups.items():
            times = _one_step(model, optimizer, data, labels)
            if i >= warmup:
                for phase, value in times.items():
                    phases[name][phase].append(value * 1e3)
    return {name: {phase: summarize(values) for phase, values in runs.items()}
            for name, runs in phases.items()}


def _one_step(model, optimizer, data, labels):
    """Seconds of forward, backward, optimizer step and the whole of one training step."""
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
    return {"forward": t1 - t0, "backward": t2 - t1, "step": t3 - t2, "total": t3 - t0}


def summarize(values):
    """(median, q1, q3) of a list of timings."""
    if len(values) < 2:
        return (values[0], values[0], values[0])
    q1, median, q3 = statistics.quantiles(values, n=4, method="inclusive")
    return (median, q1, q3)
