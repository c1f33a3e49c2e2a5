"""The pointwise activations beyond what the op table runs (tests/test_optable.py): the CPU math
layer's accuracy per capability, the inplace=True forms (silu, relu6, hardtanh, hardswish,
hardsigmoid) with gradcheck and gradgradcheck, opcheck of the in-place and double-backward ops,
native's exact boundary values (the kinks, +-inf, NaN), parity under every CPU capability, the
mode's routes, the nn mirrors, and a patched torchvision MobileNetV3 against native."""
import copy
import os
import subprocess

import pytest
import torch
import torch.nn.functional as NF
from torch import nn
from torch.autograd import gradcheck, gradgradcheck

import torchext
from torchext import functional as F
from torchext._library import ops
from torchext.backends import cpu as cpu_backend
from helpers import assert_close
from torchext.recorder import OpRecorder

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# name -> (ours, native)
INPLACE = {
    "silu": (lambda t: F.silu(t, inplace=True), lambda t: NF.silu(t, inplace=True)),
    "relu6": (lambda t: F.relu6(t, inplace=True), lambda t: NF.relu6(t, inplace=True)),
    "hardtanh": (lambda t: F.hardtanh(t, -0.5, 2.0, True), lambda t: NF.hardtanh(t, -0.5, 2.0, True)),
    "hardswish": (lambda t: F.hardswish(t, inplace=True), lambda t: NF.hardswish(t, inplace=True)),
    "hardsigmoid": (lambda t: F.hardsigmoid(t, inplace=True), lambda t: NF.hardsigmoid(t, inplace=True)),
    "sigmoid_": (F.sigmoid_, torch.sigmoid_),
}

OUT_OF_PLACE = {
    "sigmoid": (F.sigmoid, torch.sigmoid),
    "silu": (F.silu, NF.silu),
    "hardtanh": (lambda t: F.hardtanh(t, -0.5, 2.0), lambda t: NF.hardtanh(t, -0.5, 2.0)),
    "relu6": (F.relu6, NF.relu6),
    "hardswish": (F.hardswish, NF.hardswish),
    "hardsigmoid": (F.hardsigmoid, NF.hardsigmoid),
    "gelu": (F.gelu, NF.gelu),
    # Native's float32 gradient cancels in 1 - tanh^2 near x = -5 (ours does not): its float64 is
    # the reference.
    "gelu tanh": (lambda t: F.gelu(t, approximate="tanh"),
                  lambda t: NF.gelu(t.double(), approximate="tanh").to(t.dtype)),
}


@pytest.mark.parametrize("capability", cpu_backend.supported_capabilities())
def test_simd_math_accuracy(capability):
    """exp, sigmoid, tanh and erf of the CPU kernels (kernels/simd_math.h), as compiled for each
    capability this CPU runs (with pointwise.cpp's flags), within 3 ulp of long double libm over every binade, with +-inf and NaN
    (tests/cpp/simd_math_accuracy.cpp)."""
    from torch.utils import cpp_extension
    from torchext.backends.cpu_flags import CPU_CAPABILITIES, SOURCE_FLAGS

    exe = os.path.join(ROOT, "build", f"simd_math_accuracy_{capability}")
    os.makedirs(os.path.dirname(exe), exist_ok=True)
    cmd = [os.environ.get("CXX", "c++"), "-O3", "-std=c++20", f"-DTORCHEXT_CPU_CAPABILITY={capability.upper()}",
           *CPU_CAPABILITIES[capability], *SOURCE_FLAGS["pointwise.cpp"], os.path.join(ROOT, "tests", "cpp", "simd_math_accuracy.cpp"), "-o", exe]
    cmd += [f"-I{p}" for p in cpp_extension.include_paths()]
    subprocess.run(cmd, check=True)
    run = subprocess.run([exe], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr
    assert run.stdout.endswith("0 failed\n"), run.stdout


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_forms(device, name):
    """In place on a non-leaf: the same values and input gradient as native, gradcheck, and
    gradgradcheck (native has none for hardsigmoid: ours is checked alone)."""
    ours, native = INPLACE[name]
    x = (torch.rand(4, 9, device=device, dtype=torch.float64) * 10 - 5).requires_grad_()
    a, b = ours(x * 1), native(x * 1)
    assert_close(a, b)
    g = torch.randn_like(b)
    assert_close(*(torch.autograd.grad(y, x, g)[0] for y in (ours(x * 1), native(x * 1))))
    assert gradcheck(lambda t: ours(t * 1), (x,))
    assert gradgradcheck(lambda t: ours(t * 1), (x,))


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_without_grad_writes_the_view_only(device, name):
    ours, native = INPLACE[name]
    base_a = torch.randn(6, 8, device=device) * 4
    base_b = base_a.clone()
    with torch.no_grad():
        assert ours(base_a[:, ::2]) is not None
        native(base_b[:, ::2])
    ours(base_a.t())
    native(base_b.t())
    assert_close(base_a, base_b)


def _inplace_keep_calls(device):
    x = torch.randn(3, 5, device=device, dtype=torch.float64)
    return [(op, (t, keep)) for op in (ops.silu_.default, ops.hardswish_.default, ops.hardsigmoid_.default)
            for t in (x.clone(), x.clone().t()) for keep in (True, False)]


def test_opcheck_inplace_and_double_backward_ops(device):
    """The ops the table's samples do not call: the in-place forms with keep_input, and the
    double-backward ops."""
    for op, args in _inplace_keep_calls(device):
        torch.library.opcheck(op, args)
    x = torch.randn(4, 6, device=device, dtype=torch.float64)
    g, gg = torch.randn_like(x), torch.randn_like(x)
    for op, extra in ((ops.sigmoid_double_backward, ()), (ops.silu_double_backward, ()),
                      (ops.hardswish_double_backward, ()), (ops.gelu_double_backward, ("none",)),
                      (ops.gelu_double_backward, ("tanh",))):
        torch.library.opcheck(op.default, (gg, g, x, *extra))
        torch.library.opcheck(op.default, (gg.t(), g.t(), x.t(), *extra))
        torch.library.opcheck(op.default, (gg, g.t().contiguous().t(), x, *extra))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("name", list(OUT_OF_PLACE))
def test_boundaries_and_specials(device, name, dtype):
    """Exactly at each kink and bound, at +-inf, NaN, huge and tiny values: the values native
    gives, gradients included (the piecewise ops bit for bit)."""
    ours, native = OUT_OF_PLACE[name]
    if name == "gelu tanh":  # native in the same dtype: its float64 does not overflow x^3 at 1e30
        native = lambda t: NF.gelu(t, approximate="tanh")  # noqa: E731
    inf, nan = float("inf"), float("nan")
    values = [-6.0, -3.0, -2.5, -1.0, -0.5, 0.0, -0.0, 0.5, 1.0, 2.0, 2.5, 3.0, 6.0, 7.0, inf, -inf, nan,
              1e-30, -1e-30, 1e30, -1e30, 88.0, -88.0, 100.0, -100.0, 709.0, -745.0]
    x = torch.tensor(values, dtype=dtype, device=device).repeat(3).requires_grad_()  # vector + tail loops
    y, z = ours(x), native(x)
    g = torch.linspace(-2, 2, x.numel(), dtype=dtype, device=device)
    gy, gz = (torch.autograd.grad(t, x, g)[0] for t in (y, z))
    exact = name in ("hardtanh", "relu6", "hardswish", "hardsigmoid")
    # Native's float32 erf is within about 2e-7 absolute (ours is within 3 ulp).
    rtol, atol = (0, 0) if exact else ((1e-6, 3e-7) if dtype == torch.float32 else (1e-13, 1e-15))
    torch.testing.assert_close(y, z, rtol=rtol, atol=atol, equal_nan=True)
    torch.testing.assert_close(gy, gz, rtol=rtol, atol=atol, equal_nan=True)


@pytest.mark.parametrize("capability", cpu_backend.supported_capabilities())
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_every_capability(capability, dtype):
    """Every op's forward, backward and double backward with the kernels of each capability, on
    sizes with vector bodies and tails."""
    x = (torch.randn(1031, dtype=dtype) * 4).requires_grad_()
    g = torch.randn_like(x)
    rtol, atol = (1e-5, 1e-6) if dtype == torch.float32 else (1e-12, 1e-13)
    with cpu_backend.capability_scope(capability):
        for ours, native in OUT_OF_PLACE.values():
            a, b = ours(x), native(x)
            torch.testing.assert_close(a, b, rtol=rtol, atol=atol)
            ga, gb = (torch.autograd.grad(t, x, g, create_graph=True)[0] for t in (a, b))
            torch.testing.assert_close(ga, gb, rtol=rtol, atol=atol)
            if gb.requires_grad and ours is not F.hardsigmoid:
                gga, ggb = (torch.autograd.grad(t, x, g, allow_unused=True)[0] for t in (ga, gb))
                if gga is None:  # ours: none where the second derivative is zero; native: zeros
                    assert not ggb.any()
                else:
                    torch.testing.assert_close(gga, ggb, rtol=rtol * 10, atol=atol * 10)


def test_routes_of_the_mode():
    """torchext.enable() sends torch's functions, methods and in-place forms to our ops."""
    x = torch.randn(3, 4)
    calls = [(lambda t: torch.sigmoid(t), "sigmoid"), (lambda t: t.sigmoid(), "sigmoid"),
             (lambda t: torch.sigmoid_(t), "sigmoid_"), (lambda t: t.sigmoid_(), "sigmoid_"),
             (lambda t: NF.silu(t), "silu"), (lambda t: NF.silu(t, inplace=True), "silu_"),
             (lambda t: NF.hardtanh(t, -2.0, 2.0), "hardtanh"), (lambda t: NF.hardtanh_(t), "hardtanh_"),
             (lambda t: NF.relu6(t), "hardtanh"), (lambda t: NF.relu6(t, inplace=True), "hardtanh_"),
             (lambda t: NF.hardswish(t), "hardswish"), (lambda t: NF.hardswish(t, True), "hardswish_"),
             (lambda t: NF.hardsigmoid(t), "hardsigmoid"), (lambda t: NF.hardsigmoid(t, True), "hardsigmoid_"),
             (lambda t: NF.gelu(t), "gelu"), (lambda t: NF.gelu(t, approximate="tanh"), "gelu")]
    for call, op in calls:
        recorder = OpRecorder()
        with torchext.enable(), recorder:
            got = call(x.clone())
        assert f"torchext::{op}" in recorder.torchext_ops(), op
        assert recorder.native_compute_ops() == [], op
        assert_close(got, call(x.clone()))


@pytest.mark.parametrize("module", [nn.Sigmoid(), nn.SiLU(), nn.SiLU(inplace=True), nn.Hardtanh(-2.0, 0.5),
                                    nn.ReLU6(), nn.ReLU6(inplace=True), nn.Hardswish(), nn.Hardswish(inplace=True),
                                    nn.Hardsigmoid(), nn.Hardsigmoid(inplace=True), nn.GELU(),
                                    nn.GELU(approximate="tanh")], ids=repr)
def test_module_mirrors(device, module):
    ours = torchext.patch(copy.deepcopy(module))
    assert type(ours).__module__ == "torchext.nn" and isinstance(ours, type(module))
    x = (torch.randn(2, 3, 5, 4, device=device) * 4).requires_grad_()
    a, b = ours(x * 1), module(x * 1)
    assert_close(a, b)
    g = torch.randn_like(b)
    assert_close(*(torch.autograd.grad(y, x, g)[0] for y in (a, b)))


def test_patched_mobilenet_v3_equals_native():
    """torchvision's MobileNetV3 (Hardswish and ReLU in place, Hardsigmoid in its squeeze-excitation)
    patched: the activations are ours, the output and every gradient as native's."""
    torchvision = pytest.importorskip("torchvision")
    native = torchvision.models.mobilenet_v3_small(num_classes=10).eval().double()
    ours = torchext.patch(copy.deepcopy(native))
    kinds = {type(m).__name__ for m in ours.modules() if type(m).__module__ == "torchext.nn"}
    assert {"Hardswish", "Hardsigmoid"} <= kinds
    x = torch.randn(2, 3, 64, 64, dtype=torch.float64)
    a, b = ours(x), native(x)
    assert_close(a, b)
    a.square().sum().backward()
    b.square().sum().backward()
    for (name, p), q in zip(ours.named_parameters(), native.parameters()):
        assert_close(p.grad, q.grad), name
