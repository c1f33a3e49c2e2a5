"""Soak: STEPS training steps of a patched torchvision ResNet18 with torchext.optim.SGD next to the
native model with torch.optim.SGD, from the same weights, on the same batches.

- Memory: the process's resident set grows by less than MAX_GROWTH_MB between the end of the
  warm-up (WARMUP steps: allocator pools, thread pools and the GEMM buffers reach their steady
  size) and the last step. A leak of one activation-sized buffer per step would add
  2*64*32*32*8 bytes = 1 MiB x 200 steps; anything larger leaks faster.
- Trajectory: the loss of every step agrees with native's. The models run in float64, where the
  two differ only by summation order (~1e-16 relative per op); SGD with momentum on a network
  with batch norm amplifies such differences slowly but steadily (each step's update depends on
  the previous weights), so the bound is tight for the first TIGHT_STEPS steps and loose for the
  rest, with the final weights compared too. Measured: the float64 losses differ by at most
  ~4e-12 relative over the 200 steps; the same soak in float32 drifts to ~5e-4, eight orders of
  magnitude looser, which would no longer tell a wrong gradient from rounding (float32 parity of
  single steps is covered by test_model.py). Native float64 convolutions are not slower than
  float32 ones on CPU here, so float64 costs the soak no time.
"""
import gc
import os
import time

import torch
import torch.nn.functional as NF

import torchext
from torchext import functional as F
from resnet_helpers import assert_models_close, batch, twins

STEPS, WARMUP, TIGHT_STEPS = 200, 20, 20
MAX_GROWTH_MB = 50
DTYPE = torch.float64
# Relative loss difference allowed: step < TIGHT_STEPS, then any step; and the final weights
# (normwise relative difference).
TIGHT_REL, LOOSE_REL, FINAL_WEIGHTS_REL = 1e-10, 1e-8, 1e-6
LR, MOMENTUM = 1e-3, 0.9


def resident_mb():
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def test_soak_resnet18_training():
    native, ours = twins(seed=0, dtype=DTYPE)
    native_opt = torch.optim.SGD(native.parameters(), lr=LR, momentum=MOMENTUM)
    ours_opt = torchext.optim.SGD(ours.parameters(), lr=LR, momentum=MOMENTUM)
    batches = [batch(2, 64, seed=s, dtype=DTYPE) for s in range(4)]

    def step(model, opt, loss_fn, x, labels):
        opt.zero_grad()
        loss = loss_fn(model(x), labels)
        loss.backward()
        opt.step()
        return loss.item()

    start = time.perf_counter()
    losses, rss = [], {}
    for i in range(STEPS):
        x, labels = batches[i % len(batches)]
        theirs = step(native, native_opt, NF.binary_cross_entropy_with_logits, x, labels)
        mine = step(ours, ours_opt, F.binary_cross_entropy_with_logits, x, labels)
        losses.append((mine, theirs))
        if i + 1 in (WARMUP, STEPS):
            gc.collect()
            rss[i + 1] = resident_mb()
    elapsed = time.perf_counter() - start
    growth = rss[STEPS] - rss[WARMUP]
    print(f"soak: {STEPS} steps x 2 models in {elapsed:.1f} s; resident {rss[WARMUP]:.0f} MB after "
          f"{WARMUP} steps, {rss[STEPS]:.0f} MB after {STEPS} (growth {growth:+.1f} MB); "
          f"loss {losses[0][1]:.6f} -> {losses[-1][1]:.6f}; largest relative loss difference "
          f"{max(abs(a - b) / abs(b) for a, b in losses):.2e}")

    assert growth < MAX_GROWTH_MB, f"resident memory grew by {growth:.1f} MB over {STEPS - WARMUP} steps"
    assert losses[-1][1] < losses[0][1], "the native model did not train: the comparison would be vacuous"
    for i, (mine, theirs) in enumerate(losses):
        rel = TIGHT_REL if i < TIGHT_STEPS else LOOSE_REL
        assert abs(mine - theirs) <= rel * abs(theirs), f"step {i}: loss {mine!r} vs native {theirs!r}"
    assert_models_close(ours, native, FINAL_WEIGHTS_REL)
