"""Runtime CPU dispatch (torchext.backends.cpu): every op family's kernels, as compiled for each
capability this CPU supports (an AVX-512 machine also runs the avx2 and default copies), match
native torch in float32 and float64; the capability can be read, switched in one process and
forced with TORCHEXT_CPU_CAPABILITY; an unknown name, or a capability the CPU lacks, fails with a
message naming it."""
import os
import subprocess
import sys

import pytest
import torch
import torch.nn.functional as NF

import torchext
from torchext import functional as F
from torchext.backends import cpu as cpu_backend
from helpers import compare_multilinear_with_native, compare_with_native

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SUPPORTED = cpu_backend.supported_capabilities()
UNSUPPORTED = [c for c in ("default", "avx2", "avx512") if c not in SUPPORTED]
DTYPES = [torch.float32, torch.float64]


@pytest.fixture(params=SUPPORTED)
def capability(request):
    """Runs the test with the kernels of each capability this CPU supports."""
    with cpu_backend.capability_scope(request.param):
        assert cpu_backend.capability() == request.param
        yield request.param


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("shapes,transpose_b", [
    (((67, 129), (129, 75)), False),   # packed GEMM with edge tiles on every side
    (((64, 200), (120, 200)), True),   # B read transposed
    (((1, 300), (300, 50)), False),    # vector x matrix (streamed)
    (((3, 40, 96), (96, 33)), False),  # batched
])
def test_matmul(capability, dtype, shapes, transpose_b):
    a = torch.randn(shapes[0], dtype=dtype)
    b = torch.randn(shapes[1], dtype=dtype)
    op = (lambda x, y: F.matmul(x, y.t())) if transpose_b else F.matmul
    native = (lambda x, y: torch.matmul(x, y.t())) if transpose_b else torch.matmul
    compare_multilinear_with_native(op, native, [a, b], max(max(shapes[0]), max(shapes[1])))


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("x_shape,w_shape,kwargs", [
    ((2, 8, 16, 16), (16, 8, 3, 3), {"padding": 1}),            # implicit GEMM (whole-vector rows)
    ((2, 8, 13, 11), (16, 8, 3, 3), {"padding": 1}),            # im2col into packed panels
    ((2, 8, 15, 15), (8, 4, 3, 3), {"stride": 2, "groups": 2}),  # columns, one GEMM per group
    ((2, 8, 10, 10), (12, 8, 1, 1), {}),                        # 1x1: a GEMM per image
])
def test_conv2d(capability, dtype, x_shape, w_shape, kwargs):
    x = torch.randn(x_shape, dtype=dtype)
    w = torch.randn(w_shape, dtype=dtype)
    b = torch.randn(w_shape[0], dtype=dtype)
    out = NF.conv2d(x, w, b, **kwargs)
    taps = w_shape[2] * w_shape[3]
    terms = max(w_shape[1] * taps + 1, w_shape[0] * taps, x_shape[0] * out.shape[2] * out.shape[3])
    compare_multilinear_with_native(lambda *a: F.conv2d(*a, **kwargs), lambda *a: NF.conv2d(*a, **kwargs),
                                    [x, w, b], terms)


@pytest.mark.parametrize("dtype", DTYPES)
def test_linear(capability, dtype):
    x, w, b = torch.randn(37, 150, dtype=dtype), torch.randn(90, 150, dtype=dtype), torch.randn(90, dtype=dtype)
    compare_multilinear_with_native(F.linear, NF.linear, [x, w, b], 150 + 1)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("channels_last", [False, True])
def test_batch_norm(capability, dtype, channels_last):
    x = torch.randn(4, 12, 9, 10, dtype=dtype)
    if channels_last:
        x = x.to(memory_format=torch.channels_last)
    w, b = torch.randn(12, dtype=dtype), torch.randn(12, dtype=dtype)
    for training in (True, False):
        def ours(x, w, b, training=training):
            return F.batch_norm(x, torch.zeros(12, dtype=dtype), torch.ones(12, dtype=dtype), w, b,
                                training=training)

        def native(x, w, b, training=training):
            return NF.batch_norm(x, torch.zeros(12, dtype=dtype), torch.ones(12, dtype=dtype), w, b,
                                 training=training)
        compare_with_native(ours, native, [x.requires_grad_(), w.requires_grad_(), b.requires_grad_()])


@pytest.mark.parametrize("dtype", DTYPES)
def test_elementwise(capability, dtype):
    a = torch.randn(33, 65, dtype=dtype, requires_grad=True)
    b = torch.randn(65, dtype=dtype, requires_grad=True)
    pos = (torch.rand(33, 65, dtype=dtype) + 0.5).requires_grad_()
    compare_with_native(lambda x, y: F.add(x, y, alpha=0.5), lambda x, y: torch.add(x, y, alpha=0.5), [a, b])
    compare_with_native(lambda x, y: F.sub(x, y), lambda x, y: torch.sub(x, y), [a, b])
    compare_with_native(F.mul, torch.mul, [a, b])
    compare_with_native(lambda x: F.add(x, 2.5, alpha=3), lambda x: torch.add(x, 2.5, alpha=3), [a])
    compare_with_native(lambda x: F.rsub(x, 3, alpha=2), lambda x: torch.rsub(x, 3, alpha=2), [a])
    compare_with_native(lambda x: F.mul(x, -0.3), lambda x: torch.mul(x, -0.3), [a])
    for exponent in (2, 3, -0.5, 2.5):
        compare_with_native(lambda x: F.pow(x, exponent), lambda x: torch.pow(x, exponent), [pos])


@pytest.mark.parametrize("dtype", DTYPES)
def test_relu_and_add_relu(capability, dtype):
    a = torch.randn(70000, dtype=dtype, requires_grad=True)  # above the parallel grain
    b = torch.randn(70000, dtype=dtype, requires_grad=True)
    compare_with_native(F.relu, torch.relu, [a])
    compare_with_native(F.add_relu, lambda x, y: torch.relu(x + y), [a, b])


@pytest.mark.parametrize("dtype", DTYPES)
def test_sum_and_bce(capability, dtype):
    x = torch.randn(65, 130, 7, dtype=dtype, requires_grad=True)
    for dims in ([0], [1], [2], [0, 2], None):
        compare_with_native(lambda t: F.sum(t, dims) if dims else F.sum(t),
                            lambda t: torch.sum(t, dims) if dims else torch.sum(t), [x])
    z = torch.randn(40, 57, dtype=dtype, requires_grad=True)
    target = torch.rand(40, 57, dtype=dtype, requires_grad=True)
    pos_weight = torch.rand(57, dtype=dtype) + 0.5
    compare_with_native(lambda a, t: F.binary_cross_entropy_with_logits(a, t, pos_weight=pos_weight),
                        lambda a, t: NF.binary_cross_entropy_with_logits(a, t, pos_weight=pos_weight),
                        [z, target])


@pytest.mark.parametrize("dtype", DTYPES)
def test_pooling(capability, dtype):
    x = torch.randn(3, 5, 19, 23, dtype=dtype, requires_grad=True)
    compare_with_native(lambda t: F.max_pool2d(t, 3, 2, 1), lambda t: NF.max_pool2d(t, 3, 2, 1), [x])
    compare_with_native(lambda t: F.max_pool2d(t, 2), lambda t: NF.max_pool2d(t, 2), [x])
    for size in ((5, 7), (1, 1)):
        compare_with_native(lambda t: F.adaptive_avg_pool2d(t, size),
                            lambda t: NF.adaptive_avg_pool2d(t, size), [x])


@pytest.mark.parametrize("dtype", DTYPES)
def test_sgd(capability, dtype):
    ours = [torch.randn(n, dtype=dtype, requires_grad=True) for n in (70000, 33, 1)]
    theirs = [p.detach().clone().requires_grad_() for p in ours]
    opts = dict(lr=0.05, momentum=0.9, nesterov=True, weight_decay=1e-3)
    opt_ours = torchext.optim.SGD(ours, **opts)
    opt_theirs = torch.optim.SGD(theirs, foreach=False, **opts)
    for step in range(3):
        for p, q in zip(ours, theirs):
            p.grad = torch.randn_like(p)
            q.grad = p.grad.clone()
        opt_ours.step()
        opt_theirs.step()
        for p, q in zip(ours, theirs):
            assert torch.equal(p, q), f"step {step}: max diff {(p - q).abs().max().item()}"


@pytest.mark.skipif(len(SUPPORTED) < 2, reason="this CPU runs only the baseline kernels")
def test_switching_changes_the_kernels():
    # The baseline GEMM rounds a * b + c twice, the AVX2 and AVX-512 ones use fused multiply-adds:
    # 64 x 64 sums of 300 products cannot all round alike, so equal results would mean that the
    # switch did not reach the kernels.
    a, b = torch.randn(64, 300), torch.randn(300, 64)
    results = {}
    for name in SUPPORTED:
        with cpu_backend.capability_scope(name):
            results[name] = F.matmul(a, b)
    assert not torch.equal(results["default"], results[SUPPORTED[-1]])


def test_capability_api():
    assert SUPPORTED[0] == "default"
    before = cpu_backend.capability()
    assert before == SUPPORTED[-1] or os.environ.get("TORCHEXT_CPU_CAPABILITY")
    for name in SUPPORTED:
        with cpu_backend.capability_scope(name):
            assert cpu_backend.capability() == name
        assert cpu_backend.capability() == before


def test_unknown_capability_is_an_error():
    with pytest.raises(RuntimeError, match="unknown CPU capability 'sse9'.*default, avx2, avx512"):
        cpu_backend.set_capability("sse9")
    assert cpu_backend.capability() in SUPPORTED


@pytest.mark.skipif(not UNSUPPORTED, reason="this CPU supports every capability")
def test_unsupported_capability_is_an_error():
    name = UNSUPPORTED[-1]
    with pytest.raises(RuntimeError, match=f"asks for the '{name}' CPU kernels, but this CPU supports only"):
        cpu_backend.set_capability(name)
    with pytest.raises(RuntimeError):
        with cpu_backend.capability_scope(name):
            pass
    assert cpu_backend.capability() in SUPPORTED


def _python(code, capability):
    env = {**os.environ, "TORCHEXT_CPU_CAPABILITY": capability,
           "PYTHONPATH": os.pathsep.join([ROOT] + [p for p in [os.environ.get("PYTHONPATH")] if p])}
    return subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)


def test_environment_forces_default():
    run = _python("import torch, torchext\n"
                  "from torchext import functional as F\n"
                  "a, b = torch.randn(50, 60, dtype=torch.float64), torch.randn(60, 70, dtype=torch.float64)\n"
                  "x, w = torch.randn(2, 3, 9, 9, dtype=torch.float64), torch.randn(4, 3, 3, 3, dtype=torch.float64)\n"
                  "print(torchext.backends.cpu.capability())\n"
                  "print(float((F.matmul(a, b) - a @ b).abs().max()))\n"
                  "print(float((F.conv2d(x, w, padding=1) - torch.conv2d(x, w, padding=1)).abs().max()))\n",
                  "default")
    assert run.returncode == 0, run.stderr
    name, matmul_err, conv_err = run.stdout.split()
    assert name == "default"
    assert float(matmul_err) < 1e-12 and float(conv_err) < 1e-12


def test_environment_with_unknown_name_fails_import():
    run = _python("import torchext", "sse9")
    assert run.returncode != 0
    assert "TORCHEXT_CPU_CAPABILITY names an unknown CPU capability 'sse9'" in run.stderr


@pytest.mark.skipif(not UNSUPPORTED, reason="this CPU supports every capability")
def test_environment_with_unsupported_capability_fails_import():
    run = _python("import torchext", UNSUPPORTED[-1])
    assert run.returncode != 0
    assert f"TORCHEXT_CPU_CAPABILITY asks for the '{UNSUPPORTED[-1]}' CPU kernels" in run.stderr
