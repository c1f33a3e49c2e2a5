"""`python -m torchext bench`: per-op and whole-model benchmarks, native eager vs torchext (and
torch.compile of native where it runs), measured in the same process and run. Saves a markdown
table, a JSON file and a PNG chart of the ratios under benchmarks/results/, stamped with the
machine."""
import copy
import datetime
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as NF
import torch.utils.benchmark as benchmark
from torch import nn

import torchext
from . import functional as F
from .timing import compare_training_steps

MODEL_SHAPES = [(1, 64), (8, 64), (32, 64), (64, 32), (8, 224)]
# The other CNN families' whole training steps (model, batch, image side).
CNN_STEPS = [("mobilenet_v2", 8, 224), ("efficientnet_b0", 8, 224), ("densenet121", 8, 224),
             ("convnext_tiny", 8, 224)]
# The input whose convolution layers are timed one by one, with GFLOP/s against the machine's peak.
CONV_LAYER_INPUT = (8, 224)
# Vector ISA extensions worth naming for these kernels (from /proc/cpuinfo's flags).
ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_fp16", "amx_bf16", "amx_tile")


def cpu_description():
    """(model name, the ISA extensions of ISA_FLAGS it has) from /proc/cpuinfo."""
    cpu, flags = platform.processor() or "unknown", set()
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
            if cpu != "unknown" and flags:
                break
    except OSError:
        pass
    return cpu, [flag for flag in ISA_FLAGS if flag in flags]


def fma_peak_gflops(seconds=0.5):
    """The machine's float32 arithmetic peak on the current thread count: the best of a few runs
    of a register-only FMA loop (torchext._C), each about `seconds` long."""
    iterations = 1_000_000
    while True:  # calibrate on runs of at least a tenth of the target
        start = time.perf_counter()
        torchext._C._fma_peak_gflops(iterations)
        elapsed = time.perf_counter() - start
        if elapsed > seconds / 10:
            break
        iterations *= 4
    iterations = int(iterations * seconds / elapsed)
    return max(torchext._C._fma_peak_gflops(iterations) for _ in range(3))


def machine():
    cpu, isa = cpu_description()
    info = {"cpu": cpu, "isa": isa, "threads": torch.get_num_threads(), "torch": torch.__version__,
            "capability": torchext.backends.cpu.capability(),
            "date": datetime.datetime.now().isoformat(timespec="seconds"), "python": platform.python_version()}
    try:  # other work on the machine skews every timing: record how busy it was
        info["load_average"] = " ".join(open("/proc/loadavg").read().split()[:3])
    except OSError:
        pass
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name()
    return info


class Progress:
    """A one-line text progress bar on stderr."""

    def __init__(self, total, label):
        self.total, self.done, self.label = total, 0, label

    def step(self, what):
        self.done += 1
        filled = int(30 * self.done / self.total)
        sys.stderr.write(f"\r{self.label} [{'#' * filled}{'.' * (30 - filled)}] {self.done}/{self.total} {what[:40]:<40}")
        if self.done == self.total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def resnet18_layer_cases(batch=8, size=64):
    """Every distinct (op, configuration, input shape) of ResNet18's forward at batch x 3 x size^2,
    found by hooks on a native model, as (name, native_fn, ours_fn, make_inputs)."""
    from torchvision.models import resnet18
    from torchvision.models.resnet import BasicBlock

    model = resnet18(weights=None)
    seen = {}

    def hook(module, inputs, output):
        x = inputs[0]
        shape = tuple(x.shape)
        if isinstance(module, nn.Conv2d):
            key = ("conv2d", shape, module.out_channels, module.kernel_size, module.stride, module.padding)
            if key not in seen:
                seen[key] = _conv_case(module, shape)
        elif isinstance(module, nn.BatchNorm2d):
            key = ("batch_norm", shape)
            seen.setdefault(key, _batch_norm_case(shape))
        elif isinstance(module, nn.MaxPool2d):
            key = ("max_pool2d", shape)
            seen.setdefault(key, _unary_case(f"max_pool2d 3/2/1 {_fmt(shape)}", shape,
                                             lambda t: NF.max_pool2d(t, 3, 2, 1), lambda t: F.max_pool2d(t, 3, 2, 1)))
        elif isinstance(module, nn.AdaptiveAvgPool2d):
            key = ("adaptive_avg_pool2d", shape)
            seen.setdefault(key, _unary_case(f"adaptive_avg_pool2d 1x1 {_fmt(shape)}", shape,
                                             lambda t: NF.adaptive_avg_pool2d(t, 1), lambda t: F.adaptive_avg_pool2d(t, 1)))
        elif isinstance(module, nn.Linear):
            key = ("linear", shape)
            seen.setdefault(key, _linear_case(module, shape))
        elif isinstance(module, BasicBlock):
            key = ("add_relu", tuple(output.shape))
            seen.setdefault(key, _add_relu_case(tuple(output.shape)))
            seen.setdefault(("batch_norm_relu", tuple(output.shape)), _batch_norm_relu_case(tuple(output.shape)))

    for module in model.modules():
        module.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.rand(batch, 3, size, size))
    relu_shape = (batch, 64, size // 2, size // 2)
    seen[("relu", relu_shape)] = _unary_case(f"relu {_fmt(relu_shape)}", relu_shape, NF.relu, F.relu)
    return list(seen.values())


def cnn_op_cases(batch=8):
    """The ops the other torchvision CNN families add, at shapes those models have at 224x224, as
    (name, native_fn, ours_fn, make_inputs)."""
    import torchvision

    def tensors(*shapes):
        return lambda: tuple(torch.randn(shape).requires_grad_() for shape in shapes)

    def depthwise(channels, size, kernel, stride):
        conv = nn.Conv2d(channels, channels, kernel, stride, kernel // 2, groups=channels)
        return _conv_case(conv, (batch, channels, size, size))

    act = (batch, 144, 56, 56)  # an inverted residual's expanded activations (MobileNet, EfficientNet)
    se = (batch, 144, 1, 1)  # a squeeze-excitation gate
    ln = (batch, 56, 56, 96)  # ConvNeXt's first stage, channels last
    return [
        _unary_case(f"sigmoid {_fmt(act)}", act, torch.sigmoid, F.sigmoid),
        _unary_case(f"silu {_fmt(act)}", act, NF.silu, F.silu),
        _unary_case(f"relu6 {_fmt(act)}", act, NF.relu6, F.relu6),
        _unary_case(f"hardswish {_fmt(act)}", act, NF.hardswish, F.hardswish),
        _unary_case(f"hardsigmoid {_fmt(se)}", se, NF.hardsigmoid, F.hardsigmoid),
        _unary_case(f"gelu {_fmt((batch, 56, 56, 384))}", (batch, 56, 56, 384), NF.gelu, F.gelu),
        (f"mul by SE gate {_fmt(act)} * {_fmt(se)}", torch.mul, F.mul, tensors(act, se)),
        (f"div {_fmt(act)} / {_fmt(se)}", torch.div, F.div, tensors(act, se)),
        _unary_case(f"mean (2, 3) {_fmt((batch, 1280, 7, 7))}", (batch, 1280, 7, 7),
                    lambda t: t.mean((2, 3)), lambda t: F.mean(t, (2, 3))),
        (f"cat dim 1 {_fmt((batch, 256, 28, 28))} + {_fmt((batch, 32, 28, 28))}",
         lambda a, b: torch.cat([a, b], 1), lambda a, b: F.cat([a, b], 1),
         tensors((batch, 256, 28, 28), (batch, 32, 28, 28))),
        _unary_case(f"avg_pool2d 2/2 {_fmt((batch, 128, 56, 56))}", (batch, 128, 56, 56),
                    lambda t: NF.avg_pool2d(t, 2, 2), lambda t: F.avg_pool2d(t, 2, 2)),
        _unary_case(f"avg_pool2d 3/1/1 {_fmt((batch, 192, 28, 28))}", (batch, 192, 28, 28),
                    lambda t: NF.avg_pool2d(t, 3, 1, 1), lambda t: F.avg_pool2d(t, 3, 1, 1)),
        (f"layer_norm over 96 {_fmt(ln)}", lambda x, w, b: NF.layer_norm(x, (96,), w, b),
         lambda x, w, b: F.layer_norm(x, (96,), w, b), lambda: (torch.randn(ln).requires_grad_(), _param(96), _param(96))),
        _unary_case(f"dropout 0.5 {_fmt((batch, 4096))}", (batch, 4096),
                    lambda t: NF.dropout(t, 0.5), lambda t: F.dropout(t, 0.5)),
        _unary_case(f"stochastic_depth row 0.1 {_fmt((batch, 112, 14, 14))}", (batch, 112, 14, 14),
                    lambda t: torchvision.ops.stochastic_depth(t, 0.1, "row"),
                    lambda t: F.stochastic_depth(t, 0.1, "row")),
        depthwise(144, 56, 3, 1), depthwise(144, 56, 3, 2), depthwise(240, 28, 5, 1), depthwise(384, 14, 7, 1),
    ]


def _fmt(shape):
    return "x".join(map(str, shape))


def _param(*shape):
    return torch.randn(*shape).requires_grad_()


def _conv_case(module, shape, input_grad=True):
    """input_grad=False for a layer reading the images, whose gradient a training step skips."""
    weight_shape = tuple(module.weight.shape)
    stride, padding, groups = module.stride, module.padding, module.groups
    kind = "depthwise " if groups > 1 and groups == shape[1] else ""
    name = (f"conv2d {kind}{weight_shape[2]}x{weight_shape[3]}/{stride[0]} {shape[1]}->{weight_shape[0]} "
            f"on {_fmt(shape)}")
    return (name, lambda x, w: NF.conv2d(x, w, None, stride, padding, 1, groups),
            lambda x, w: F.conv2d(x, w, None, stride, padding, 1, groups),
            lambda: (torch.randn(shape).requires_grad_(input_grad), _param(*weight_shape)))


def conv_forward_flops(shape_in, weight_shape, stride, padding):
    """Multiply-adds x 2 of a convolution's forward by the direct count."""
    n, c, h, w = shape_in
    k, _, kh, kw = weight_shape
    out_h = (h + 2 * padding[0] - kh) // stride[0] + 1
    out_w = (w + 2 * padding[1] - kw) // stride[1] + 1
    return 2 * n * k * c * kh * kw * out_h * out_w


def resnet18_conv_layers(batch, size):
    """Every distinct convolution of ResNet18 at batch x 3 x size^2 as
    (name, native_fn, ours_fn, make_inputs, forward FLOPs by the direct count)."""
    from torchvision.models import resnet18

    model = resnet18(weights=None)
    seen = {}

    def hook(module, inputs, output):
        shape = tuple(inputs[0].shape)
        key = (shape, module.out_channels, module.kernel_size, module.stride, module.padding)
        if key not in seen:
            seen[key] = (*_conv_case(module, shape, input_grad=module is not model.conv1),
                         conv_forward_flops(shape, tuple(module.weight.shape), module.stride, module.padding))

    for module in model.modules():
        if isinstance(module, nn.Conv2d):
            module.register_forward_hook(hook)
    with torch.no_grad():
        model(torch.rand(batch, 3, size, size))
    return list(seen.values())


def _batch_norm_case(shape):
    channels = shape[1]

    def make():
        return (torch.randn(shape).requires_grad_(), torch.zeros(channels), torch.ones(channels),
                _param(channels), _param(channels))
    return (f"batch_norm train {_fmt(shape)}",
            lambda x, rm, rv, w, b: NF.batch_norm(x, rm, rv, w, b, training=True),
            lambda x, rm, rv, w, b: F.batch_norm(x, rm, rv, w, b, training=True), make)


def _batch_norm_relu_case(shape):
    """A block's end: relu(batch_norm(x) + identity), native's three ops against the fused one."""
    channels = shape[1]

    def make():
        return (torch.randn(shape).requires_grad_(), torch.randn(shape).requires_grad_(),
                torch.zeros(channels), torch.ones(channels), _param(channels), _param(channels))
    return (f"batch_norm+add+relu train {_fmt(shape)}",
            lambda x, r, rm, rv, w, b: NF.relu(NF.batch_norm(x, rm, rv, w, b, training=True) + r),
            lambda x, r, rm, rv, w, b: F.batch_norm_relu(x, rm, rv, w, b, training=True, residual=r), make)


def _linear_case(module, shape):
    return (f"linear {module.in_features}->{module.out_features} on {_fmt(shape)}", NF.linear, F.linear,
            lambda: (torch.randn(shape).requires_grad_(), _param(module.out_features, module.in_features),
                     _param(module.out_features)))


def _add_relu_case(shape):
    return (f"add+relu {_fmt(shape)}", lambda a, b: NF.relu(a + b), F.add_relu,
            lambda: (torch.randn(shape).requires_grad_(), torch.randn(shape).requires_grad_()))


def _unary_case(name, shape, native, ours):
    return (name, native, ours, lambda: (torch.randn(shape).requires_grad_(),))


def _times(stmt, min_run_time):
    """Seconds per call of a callable, several measurements via torch.utils.benchmark, on the
    current thread count (Timer's default would run it on one thread)."""
    return benchmark.Timer(stmt="fn()", globals={"fn": stmt}, num_threads=torch.get_num_threads()
                           ).blocked_autorange(min_run_time=min_run_time).times


def _quartiles_ms(times):
    """(median, q1, q3) in ms."""
    times = sorted(times)
    q = lambda p: times[min(len(times) - 1, int(p * (len(times) - 1) + 0.5))] * 1e3  # noqa: E731
    return (q(0.5), q(0.25), q(0.75))


def _compare(stmts, min_run_time, rounds=6):
    """{name: (median, q1, q3) ms} for {name: callable}, measured in alternating rounds so that a
    change in the machine's load reaches all of them alike."""
    times = {name: [] for name in stmts}
    for _ in range(rounds):
        for name, stmt in stmts.items():
            times[name] += _times(stmt, min_run_time / rounds)
    return {name: _quartiles_ms(values) for name, values in times.items()}


def time_op(native, ours, make_inputs, min_run_time):
    """Forward and forward+backward of native and ours on the same inputs."""
    inputs = make_inputs()

    def forward(fn):
        def run():
            with torch.no_grad():
                fn(*inputs)
        return run

    def forward_backward(fn):
        with torch.no_grad():
            grad = torch.ones_like(fn(*inputs))

        def run():
            fn(*inputs).backward(grad)
        return run

    fns = {"native": native, "torchext": ours}
    fwd = _compare({label: forward(fn) for label, fn in fns.items()}, min_run_time)
    fwd_bwd = _compare({label: forward_backward(fn) for label, fn in fns.items()}, min_run_time)
    return {label: {"forward": fwd[label], "forward+backward": fwd_bwd[label]} for label in fns}


def gemm_cases():
    """The GEMM at 1024^3 and 2048^3 (float32), ours vs torch.mm, in GFLOP/s."""
    cases = []
    for n in (1024, 2048):
        a, b = torch.randn(n, n), torch.randn(n, n)
        flops = 2 * n**3
        runs = _compare({"native": lambda: torch.mm(a, b), "torchext": lambda: torchext.ops.matmul(a, b)}, 2.0)
        native, ours = runs["native"], runs["torchext"]
        cases.append({"name": f"gemm {n}^3", "native_gflops": flops / native[0] / 1e6,
                      "torchext_gflops": flops / ours[0] / 1e6, "native_ms": native, "torchext_ms": ours})
    return cases


def model_step(batch, size, reps, compile_native, name="resnet18"):
    """Median times of the tutorial step's phases of a torchvision model, native vs torchext (vs
    compiled native)."""
    import torchvision

    torch.manual_seed(0)
    model = torchvision.models.get_model(name, weights=None)
    patched = torchext.patch(copy.deepcopy(model))
    data, labels = torch.rand(batch, 3, size, size), torch.rand(batch, 1000)
    setups = {"native": (model, torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)),
              "torchext": (patched, torchext.optim.SGD(patched.parameters(), lr=1e-2, momentum=0.9))}
    if compile_native:
        compiled_model = copy.deepcopy(model)
        setups["native compiled"] = (torch.compile(compiled_model),
                                     torch.optim.SGD(compiled_model.parameters(), lr=1e-2, momentum=0.9))
    # Warm-up 3: the compiled model compiles in its first steps.
    return compare_training_steps(setups, data, labels, reps=reps, warmup=3 if compile_native else 2)


def peak_memory_mb(batch, size, implementation, malloc_env=None):
    """Peak resident memory added by 3 training steps, measured in a fresh process (with
    malloc_env added to its environment, e.g. a fixed glibc mmap threshold).

    The baseline is the resident set once the model, data and optimizer exist; the kernel's
    high-water mark (VmHWM) is then reset (Linux: writing 5 to /proc/self/clear_refs), so the
    peak is that of the steps alone, whatever importing torch touched before. Everything resident
    counts: tensors, our packing buffers, the allocator's cached pages."""
    code = (
        "import re, torch, torchext\n"
        "from torchvision.models import resnet18\n"
        "def status(field):\n"
        "    return int(re.search(field + r':\\s+(\\d+) kB', open('/proc/self/status').read()).group(1))\n"
        "torch.manual_seed(0)\n"
        "model = resnet18(weights=None)\n"
        f"data, labels = torch.rand({batch}, 3, {size}, {size}), torch.rand({batch}, 1000)\n"
        + ("model = torchext.patch(model); opt = torchext.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)\n"
           if implementation == "torchext" else
           "opt = torch.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)\n")
        + "before = status('VmRSS')\n"
        "open('/proc/self/clear_refs', 'w').write('5')\n"
        "for _ in range(3):\n"
        "    opt.zero_grad(); (model(data) - labels).sum().backward(); opt.step()\n"
        "print((status('VmHWM') - before) / 1024)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env={**os.environ, **(malloc_env or {})})
    if out.returncode != 0:
        raise RuntimeError(f"peak memory run ({implementation}, {batch}x3x{size}x{size}) failed:\n{out.stderr[-2000:]}")
    return float(out.stdout.strip().splitlines()[-1])


def _ms(stats):
    return f"{stats[0]:.3f} ({stats[1]:.3f}-{stats[2]:.3f})"


DEFAULT_OUT = Path("benchmarks/results")
# glibc keeps freed blocks below its (moving) mmap threshold in the heap, so the resident peak
# also depends on allocation order; with the threshold fixed, large tensors are unmapped when
# freed and the peak is close to that of the live tensors and buffers alone.
FIXED_MMAP_THRESHOLD = {"MALLOC_MMAP_THRESHOLD_": "131072"}


def write_results(results, out_dir, update_readme=None):
    """The JSON, markdown table and PNG chart of a run under out_dir; the README's generated
    section too when they go to the committed results directory (or update_readme says so)."""
    out = Path(out_dir)
    if update_readme is None:
        update_readme = out.resolve() == DEFAULT_OUT.resolve()
    out.mkdir(parents=True, exist_ok=True)
    stem = "cuda" if results["machine"].get("device") == "cuda" else "cpu"
    (out / f"bench_{stem}.json").write_text(json.dumps(results, indent=1))
    m = results["machine"]
    lines = [f"# torchext vs native: {m['cpu']}{', ' + m['gpu'] if 'gpu' in m else ''}, {m['threads']} threads, "
             f"torch {m['torch']}, {m['date']}, load average {m.get('load_average', 'not recorded')}", ""]
    if "isa" in m:
        lines += [f"CPU extensions: {', '.join(m['isa']) or 'none of ' + ', '.join(ISA_FLAGS)}; "
                  f"torchext's kernels: {m.get('capability', 'built for this machine')}; "
                  f"measured float32 peak (register-only FMA loop, {m['threads']} threads): "
                  f"{m.get('fma_peak_gflops', float('nan')):.0f} GFLOP/s"
                  + (f" (one thread: {m['fma_peak_gflops_one_thread']:.0f})"
                     if "fma_peak_gflops_one_thread" in m else "") + ".", ""]
    lines += ["Median ms (interquartile range); ratio = torchext / native (below 1 is faster).", ""]
    lines += ["## Training step of ResNet18 (forward, backward, SGD momentum step)", "",
              "| input | phase | native | torchext | ratio | compiled native |", "|---|---|---|---|---|---|"]
    for row in results["model"]:
        for phase in ("forward", "backward", "step", "total"):
            compiled = row["runs"].get("native compiled")
            lines.append(f"| {row['input']} | {phase} | {_ms(row['runs']['native'][phase])} | "
                         f"{_ms(row['runs']['torchext'][phase])} | "
                         f"{row['runs']['torchext'][phase][0] / row['runs']['native'][phase][0]:.2f} | "
                         f"{_ms(compiled[phase]) if compiled else '-'} |")
    if results.get("cnn_models"):
        lines += ["", "## Training step of other torchvision CNNs (patched, forward, backward, SGD momentum step)", "",
                  "| model | input | forward ratio | backward ratio | native step | torchext step | step ratio |",
                  "|---|---|---|---|---|---|---|"]
        for row in results["cnn_models"]:
            n, o = row["runs"]["native"], row["runs"]["torchext"]
            lines.append(f"| {row['model']} | {row['input']} | {o['forward'][0] / n['forward'][0]:.2f} | "
                         f"{o['backward'][0] / n['backward'][0]:.2f} | {_ms(n['total'])} | {_ms(o['total'])} | "
                         f"{o['total'][0] / n['total'][0]:.2f} |")
    if results.get("memory"):
        fixed = "native fixed mmap threshold" in results["memory"][0]
        lines += ["", "## Peak memory added by 3 training steps (MB, resident)", "",
                  "| input | native | torchext |" + (" native, fixed mmap threshold | torchext, fixed mmap threshold |"
                                                   if fixed else ""),
                  "|---|---|---|" + ("---|---|" if fixed else "")]
        lines += [f"| {r['input']} | {r['native']:.0f} | {r['torchext']:.0f} |"
                  + (f" {r['native fixed mmap threshold']:.0f} | {r['torchext fixed mmap threshold']:.0f} |"
                     if fixed else "") for r in results["memory"]]
    for key, heading in (("ops", "Per op, every distinct ResNet18 layer shape (batch 8, 64x64)"),
                         ("cnn_ops", "Per op, the other CNN families' ops (batch 8, shapes at 224x224)")):
        if not results.get(key):
            continue
        lines += ["", f"## {heading}", "",
                  "| op | fwd native | fwd torchext | fwd ratio | fwd+bwd native | fwd+bwd torchext | fwd+bwd ratio |",
                  "|---|---|---|---|---|---|---|"]
        for row in results[key]:
            n, o = row["native"], row["torchext"]
            lines.append(f"| {row['name']} | {_ms(n['forward'])} | {_ms(o['forward'])} | "
                         f"{o['forward'][0] / n['forward'][0]:.2f} | {_ms(n['forward+backward'])} | "
                         f"{_ms(o['forward+backward'])} | {o['forward+backward'][0] / n['forward+backward'][0]:.2f} |")
    if results.get("conv_layers"):
        peak = m.get("fma_peak_gflops")
        lines += ["", f"## Convolution layers of ResNet18 at {results['conv_layers'][0]['input']}", "",
                  "GFLOP/s by the direct count (forward 2·N·K·C·kh·kw·OH·OW; forward+backward 3x that), "
                  "so an algorithm with fewer multiplies (Winograd) can exceed the peak.", "",
                  "| conv | fwd native | fwd torchext | fwd ratio | fwd+bwd native | fwd+bwd torchext | fwd+bwd ratio | "
                  "fwd+bwd GFLOP/s native | torchext | torchext / peak |", "|---|---|---|---|---|---|---|---|---|---|"]
        for row in results["conv_layers"]:
            n, o = row["native"], row["torchext"]
            flops = 3 * row["forward_flops"]
            native_gf, ours_gf = flops / n["forward+backward"][0] / 1e6, flops / o["forward+backward"][0] / 1e6
            lines.append(f"| {row['name']} | {_ms(n['forward'])} | {_ms(o['forward'])} | "
                         f"{o['forward'][0] / n['forward'][0]:.2f} | {_ms(n['forward+backward'])} | "
                         f"{_ms(o['forward+backward'])} | {o['forward+backward'][0] / n['forward+backward'][0]:.2f} | "
                         f"{native_gf:.0f} | {ours_gf:.0f} | {ours_gf / peak if peak else float('nan'):.2f} |")
        lower = [(row["name"], key, row[key]) for row in results["conv_layers"] for key in row
                 if key.startswith("torchext ") and key != "torchext"]
        if lower:
            lines += ["", "The same layers on the kernels a CPU without AVX-512 runs (forced on this one):", "",
                      "| conv | path | fwd | fwd+bwd | fwd+bwd ratio to native |", "|---|---|---|---|---|"]
            native_of = {row["name"]: row["native"] for row in results["conv_layers"]}
            lines += [f"| {name} | {key.split()[1]} | {_ms(t['forward'])} | {_ms(t['forward+backward'])} | "
                      f"{t['forward+backward'][0] / native_of[name]['forward+backward'][0]:.2f} |"
                      for name, key, t in lower]
    if results.get("gemm"):
        lines += ["", "## GEMM (float32)", "", "| size | torch.mm GFLOP/s | torchext GFLOP/s | fraction |", "|---|---|---|---|"]
        lines += [f"| {g['name']} | {g['native_gflops']:.1f} | {g['torchext_gflops']:.1f} | "
                  f"{g['torchext_gflops'] / g['native_gflops']:.2f} |" for g in results["gemm"]]
    table = "\n".join(lines) + "\n"
    (out / f"bench_{stem}.md").write_text(table)
    _chart(results, out / f"bench_{stem}.png")
    if update_readme:
        _update_readme(stem, table, out / f"bench_{stem}.png")
    return out / f"bench_{stem}.md"


def _update_readme(stem, table, chart):
    """Replaces the README's generated section for these results (between its markers), so the
    figures there always come from a saved results file."""
    readme = Path(__file__).resolve().parents[1] / "README.md"
    start, end = f"<!-- bench:{stem}:start -->", f"<!-- bench:{stem}:end -->"
    if not readme.exists():
        return
    text = readme.read_text()
    if start not in text or end not in text:
        return
    body = table.split("\n", 1)[1].replace("\n## ", "\n#### ")
    heading = table.split("\n", 1)[0].lstrip("# ")
    try:
        chart_path = chart.resolve().relative_to(readme.parent)
    except ValueError:
        chart_path = chart
    section = f"{start}\n_Generated by `python -m torchext bench`: {heading}_\n\n![ratios]({chart_path})\n{body}{end}"
    readme.write_text(text[:text.index(start)] + section + text[text.index(end) + len(end):])


def _chart(results, path):
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels, ratios = [], []
    for row in results["model"]:
        labels.append(f"step {row['input']}")
        ratios.append(row["runs"]["torchext"]["total"][0] / row["runs"]["native"]["total"][0])
    for row in results.get("cnn_models", []):
        labels.append(f"{row['model']} step {row['input']}")
        ratios.append(row["runs"]["torchext"]["total"][0] / row["runs"]["native"]["total"][0])
    for row in results["ops"] + results.get("cnn_ops", []) + results.get("conv_layers", []):
        labels.append(row["name"])
        ratios.append(row["torchext"]["forward+backward"][0] / row["native"]["forward+backward"][0])
    fig, ax = plt.subplots(figsize=(9, 0.28 * len(labels) + 1.5))
    colors = ["tab:green" if r <= 1 else "tab:red" for r in ratios]
    ax.barh(range(len(labels)), ratios, color=colors)
    ax.axvline(1.0, color="black", linewidth=1)
    ax.set_yticks(range(len(labels)), labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("time ratio torchext / native (fwd+bwd for ops, whole step for the model; < 1 is faster)")
    m = results["machine"]
    ax.set_title(f"{m['cpu']}, {m['threads']} threads, torch {m['torch']}", fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(quick=False, out_dir=DEFAULT_OUT, render=None):
    if render:
        print(write_results(json.loads(Path(render).read_text()), out_dir).read_text())
        return 0
    results = {"machine": machine(), "model": [], "cnn_models": [], "ops": [], "cnn_ops": [], "conv_layers": [],
               "gemm": [], "memory": []}
    results["machine"]["fma_peak_gflops"] = fma_peak_gflops(0.1 if quick else 0.5)
    # One thread's too: on a shared VM the all-threads figure can fall below what the cores do
    # (the GEMM then "exceeds the peak"), and this tells the two apart.
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        results["machine"]["fma_peak_gflops_one_thread"] = fma_peak_gflops(0.1 if quick else 0.5)
    finally:
        torch.set_num_threads(threads)
    shapes = MODEL_SHAPES[:2] if quick else MODEL_SHAPES
    cases = resnet18_layer_cases()
    other_cases = cnn_op_cases()
    conv_layers = [] if quick else resnet18_conv_layers(*CONV_LAYER_INPUT)
    lower_path = "avx2" if results["machine"]["capability"] == "avx512" else None
    cnn_steps = [(name, batch, 64 if quick else size) for name, batch, size in CNN_STEPS]
    progress = Progress(len(shapes) + len(cnn_steps) + len(cases) + len(other_cases) + len(conv_layers) + 1
                        + (0 if quick else len(shapes)), "bench")
    for batch, size in shapes:
        reps = 5 if quick else 9 if batch * size * size > 8 * 64 * 64 * 4 else 21
        compile_native = not quick and batch == 8 and size == 64
        try:
            runs = model_step(batch, size, reps, compile_native)
        except Exception as error:  # torch.compile may not work on every machine
            print(f"\nnote: compiled native failed ({str(error).splitlines()[0][:80]}); timing eager only",
                  file=sys.stderr)
            runs = model_step(batch, size, reps, False)
        results["model"].append({"input": f"{batch}x3x{size}x{size}", "runs": runs})
        progress.step(f"model {batch}x3x{size}x{size}")
    for name, batch, size in cnn_steps:
        runs = model_step(batch, size, 3 if quick else 5, False, name)
        results["cnn_models"].append({"model": name, "input": f"{batch}x3x{size}x{size}", "runs": runs})
        progress.step(name)
    for name, native, ours, make in cases:
        results["ops"].append({"name": name, **time_op(native, ours, make, 0.3 if quick else 1.2)})
        progress.step(name)
    for name, native, ours, make in other_cases:
        results["cnn_ops"].append({"name": name, **time_op(native, ours, make, 0.3 if quick else 1.2)})
        progress.step(name)
    conv_input = "x".join(map(str, (CONV_LAYER_INPUT[0], 3, CONV_LAYER_INPUT[1], CONV_LAYER_INPUT[1])))
    for name, native, ours, make, flops in conv_layers:
        row = {"name": name, "input": conv_input, "forward_flops": flops, **time_op(native, ours, make, 3.0)}
        if lower_path:  # the kernels an AVX2-only CPU would run, timed on this one
            with torchext.backends.cpu.capability_scope(lower_path):
                row[f"torchext {lower_path}"] = time_op(native, ours, make, 3.0)["torchext"]
        results["conv_layers"].append(row)
        progress.step(name)
    results["gemm"] = gemm_cases()
    progress.step("gemm")
    if not quick:
        for batch, size in shapes:
            row = {"input": f"{batch}x3x{size}x{size}"}
            for label, env in (("", None), (" fixed mmap threshold", FIXED_MMAP_THRESHOLD)):
                for implementation in ("native", "torchext"):
                    row[implementation + label] = peak_memory_mb(batch, size, implementation, env)
            results["memory"].append(row)
            progress.step(f"memory {batch}x3x{size}x{size}")
    table = write_results(results, out_dir)
    print(table.read_text())
    return 0
