"""`python -m torchext coverage`: every torchvision classification model, patched with
torchext.patch, through one training step (forward, loss, backward) beside the native model from
the same weights. Per model:

- share: of the compute ops the step dispatches (the recorder's: allocation, views, copies and
  fills do not count), the fraction that are torchext's. The autograd engine's own sums of the
  gradients of tensors used more than once (recorder.engine_gradient_sums) are not ops of the
  program and are left out on both sides;
- native: the native compute ops left, by name;
- error: the float32 step's normwise relative error against native float64 on the same weights
  and input, over the output and every parameter gradient together (dropout and stochastic depth
  at p=0), for the patched model and for native float32;
- ratio: the patched step's time over native's (median of interleaved repeats).

The loss is a sum of squares computed under torchext.enable() for the patched model.
"""
import fnmatch
import json
import os
import statistics
import time
import warnings

import torch
from torch.utils._python_dispatch import TorchDispatchMode

from .patch import patch
from .mode import enable
from .recorder import OpRecorder, engine_gradient_sums

# Inputs smaller than 224 keep the run short; these models need a particular size (Inception's
# stem needs 75; MaxViT's 7x7 partitions need 224; ViT's patches must tile the image).
_SIZE = {"inception_v3": 75, "maxvit_t": 224, "vit_h_14": 56}
_KWARGS = {"googlenet": {"aux_logits": False, "init_weights": False},
           "inception_v3": {"aux_logits": False, "init_weights": False}}


def model_names(patterns=None):
    """torchvision's classification models, filtered by fnmatch patterns when given."""
    import torchvision
    names = torchvision.models.list_models(module=torchvision.models)
    if not patterns:
        return names
    return [n for n in names if any(fnmatch.fnmatch(n, p) for p in patterns)]


def build(name, size):
    """The model (weights=None, seed 0, 10 classes) and the input side it runs at."""
    import torchvision
    size = _SIZE.get(name, size)
    kwargs = dict(_KWARGS.get(name, {}))
    if name.startswith("vit_"):
        kwargs["image_size"] = size
    torch.manual_seed(0)
    return torchvision.models.get_model(name, weights=None, num_classes=10, **kwargs), size


def _loss(output, target):
    return ((output - target) ** 2).sum()


def _step(model, data, target, routed, seed=0):
    """One forward, loss and backward; returns the output and the parameter gradients."""
    model.zero_grad(set_to_none=True)
    torch.manual_seed(seed)
    output = model(data)
    if routed:
        with enable():
            loss = _loss(output, target)
    else:
        loss = _loss(output, target)
    loss.backward()
    return output.detach(), [p.grad for p in model.parameters() if p.grad is not None]


def _recorded_step(model, data, target):
    """(torchext ops, native compute ops by name) of one patched step."""
    model.zero_grad(set_to_none=True)
    forward, backward = OpRecorder(), OpRecorder()
    with forward:
        output = model(data)
        with enable():
            loss = _loss(output, target)
    sums = engine_gradient_sums(loss)
    with backward:
        loss.backward()
    grads = [p.grad for p in model.parameters() if p.grad is not None]
    counters = [b for b in model.buffers() if not b.is_floating_point()]
    native = forward.native_compute_counts(counters=counters) + backward.native_compute_counts(grads)
    for op in ("aten.add.Tensor", "aten.add_.Tensor"):  # the engine's sums go first
        taken = min(sums, native.get(op, 0))
        native[op] -= taken
        sums -= taken
    native = +native  # drops the zero counts
    return forward.torchext_count() + backward.torchext_count(), native


def _no_randomness(model):
    """Sets p=0 on every dropout and stochastic-depth module; returns a function restoring them."""
    saved = [(m, m.p) for m in model.modules()
             if isinstance(m.__dict__.get("p"), float) and ("Dropout" in type(m).__name__
                                                            or "StochasticDepth" in type(m).__name__)]
    for m, _ in saved:
        m.p = 0.0
    return lambda: [setattr(m, "p", p) for m, p in saved]


def _flat(output, grads):
    return torch.cat([output.double().flatten()] + [g.double().flatten() for g in grads])


def _error(x, reference):
    return ((x - reference).norm() / reference.norm()).item()


def _piece(x, breaks):
    """Which interval between the breakpoints each entry of x lies in."""
    piece = torch.zeros(x.shape, dtype=torch.int8)
    for b in breaks:
        piece += (x > b).to(torch.int8)
    return piece


# The ops whose result has a kink, torchext's and native's: the breakpoints of each, read from the
# input before the call (in-place ops overwrite it).
_BREAKS = {"relu": lambda a: (0.0,), "relu_": lambda a: (0.0,), "threshold": lambda a: (a[1],),
           "hardtanh": lambda a: (a[1] if len(a) > 1 else -1.0, a[2] if len(a) > 2 else 1.0),
           "hardtanh_": lambda a: (a[1] if len(a) > 1 else -1.0, a[2] if len(a) > 2 else 1.0),
           "hardswish": lambda a: (-3.0, 3.0), "hardswish_": lambda a: (-3.0, 3.0),
           "hardsigmoid": lambda a: (-3.0, 3.0), "hardsigmoid_": lambda a: (-3.0, 3.0)}
# Kinks read from the result: relu after an op (its pre-activation is not an input), max pooling's
# choice.
_RESULT = {"add_relu": lambda out: _piece(out, (0.0,)), "batch_norm_relu": lambda out: _piece(out[0], (0.0,)),
           "max_pool2d": lambda out: out[1], "max_pool2d_with_indices": lambda out: out[1]}


class _Kinks(TorchDispatchMode):
    """Records, for every op with a kink in the forward, the piece each entry falls in (relu's
    side of 0, max pooling's argmax): two runs of one model in two precisions that differ here
    took different branches of a non-differentiable point."""

    def __init__(self):
        super().__init__()
        self.pieces = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func._schema.name.split("::")[-1]
        if name in _BREAKS and not kwargs:
            self.pieces.append(_piece(args[0].detach(), _BREAKS[name](args)))
        out = func(*args, **(kwargs or {}))
        if name in _RESULT:
            self.pieces.append(_RESULT[name](out).detach().clone())
        return out


def _branches(model, data, target, routed):
    with _Kinks() as kinks:
        _step(model, data, target, routed)
    return kinks.pieces


def kinks_agree(ours, native, data, target):
    """Whether each model's float32 step takes the branches its float64 step takes at every kink
    (dropout and stochastic depth at p=0): where one side does not, its float32 error measures a
    branch, not rounding (as gradcheck needs inputs away from kinks)."""
    restore = [_no_randomness(ours), _no_randomness(native)]
    agree = True
    for model, routed in ((ours, True), (native, False)):
        low = _branches(model, data, target, routed)
        model.double()
        high = _branches(model, data.double(), target.double(), routed)
        model.float()
        agree = agree and len(low) == len(high) and all(torch.equal(a, b) for a, b in zip(low, high))
    for undo in restore:
        undo()
    return agree


def _parity(ours, native, data, target):
    """(ours' error, native float32's error) against native float64 on the same weights and input,
    normwise over the output and every parameter gradient, dropout and stochastic depth at p=0."""
    restore = [_no_randomness(ours), _no_randomness(native)]
    native.double()
    reference = _flat(*_step(native, data.double(), target.double(), False))
    native.float()
    errors = (_error(_flat(*_step(ours, data, target, True)), reference),
              _error(_flat(*_step(native, data, target, False)), reference))
    for undo in restore:
        undo()
    return errors


def measure(name, size=64, batch=2, reps=3):
    """The coverage row of one model."""
    native, size = build(name, size)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ours = patch(build(name, size)[0])
    native.train(), ours.train()
    torch.manual_seed(1)
    data = torch.randn(batch, 3, size, size)
    target = torch.randn(batch, 10)
    torchext_ops, native_ops = _recorded_step(ours, data, target)
    error, native_error = _parity(ours, native, data, target)
    times = {True: [], False: []}
    for _ in range(reps):
        for routed, model in ((True, ours), (False, native)):
            start = time.perf_counter()
            _step(model, data, target, routed)
            times[routed].append(time.perf_counter() - start)
    left = sum(native_ops.values())
    return {"model": name, "input": [batch, 3, size, size], "torchext_ops": torchext_ops,
            "native_ops": left, "share": torchext_ops / max(torchext_ops + left, 1),
            "native": dict(sorted(native_ops.items())), "error": error, "native_error": native_error,
            "ratio": statistics.median(times[True]) / statistics.median(times[False])}


def table(rows):
    lines = ["| model | input | share on torchext | native compute left | float32 error: torchext / native "
             "| step ratio |", "|---|---|---|---|---|---|"]
    for r in rows:
        left = ", ".join(f"{op.removeprefix('aten.')} x{n}" for op, n in r["native"].items()) or "none"
        lines.append(f"| {r['model']} | {'x'.join(map(str, r['input']))} | {r['share']:.1%} | {left} "
                     f"| {r['error']:.1e} / {r['native_error']:.1e} | {r['ratio']:.2f} |")
    return "\n".join(lines)


def main(patterns=None, size=64, batch=2, out=None):
    from .bench import machine
    names = model_names(patterns)
    if not names:
        print("no torchvision model matches", " ".join(patterns))
        return 1
    meta = machine()
    where = f"{meta['cpu']} ({', '.join(meta['isa'])}; kernels {meta['capability']}), {meta['threads']} threads"
    print(f"# torchext coverage on {where}")
    rows = []
    for name in names:
        row = measure(name, size, batch)
        rows.append(row)
        left = ", ".join(row["native"]) or "none"
        print(f"{name}: {row['share']:.1%} on torchext, native: {left}, "
              f"float32 error {row['error']:.1e} (native {row['native_error']:.1e}), step ratio {row['ratio']:.2f}", flush=True)
    complete = sum(1 for r in rows if r["native_ops"] == 0)
    print(f"{complete} of {len(rows)} models with no native compute op")
    if out:
        os.makedirs(out, exist_ok=True)
        with open(os.path.join(out, "coverage.json"), "w") as f:
            json.dump({"machine": meta, "rows": rows}, f, indent=1)
        with open(os.path.join(out, "coverage.md"), "w") as f:
            f.write(f"Measured on {where}, {meta['date']}, load average {meta.get('load_average')}; "
                    f"{complete} of {len(rows)} models with no native compute op.\n\n{table(rows)}\n")
    return 0
