import os
import subprocess

import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck

import torchext
from torchext import functional as F
from helpers import assert_close, assert_within_rounding, compare_with_native

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# One pair of operand shapes per class of torch.matmul's semantics.
SHAPE_CLASSES = [
    ((3,), (3,)),                  # dot
    ((2, 3), (3,)),                # matrix @ vector
    ((3,), (3, 4)),                # vector @ matrix
    ((2, 3), (3, 4)),              # matrix @ matrix
    ((2, 5, 3), (3, 4)),           # batch @ matrix
    ((5, 3), (2, 3, 4)),           # matrix @ batch
    ((2, 5, 3), (2, 3, 4)),        # batch @ batch
    ((2, 1, 3, 4), (5, 4, 6)),     # broadcast batch dims
    ((2, 1, 3, 4), (1, 5, 4, 2)),  # broadcast on both sides
    ((3,), (2, 3, 4)),             # vector @ batch
    ((2, 3, 4), (4,)),             # batch @ vector
    ((1, 3, 4), (2, 4, 2)),        # size-1 batch
]

EMPTY_SHAPES = [
    ((0, 3), (3, 4)),
    ((2, 3), (3, 0)),
    ((2, 0), (0, 4)),   # K == 0: zeros
    ((0,), (0,)),       # empty dot: 0
    ((0, 2, 3), (3, 4)),
    ((2, 0, 3), (2, 3, 4)),
    ((3, 0), (0,)),
]


def _randn(shape, device, dtype=torch.float32, requires_grad=False):
    return torch.randn(shape, device=device, dtype=dtype, requires_grad=requires_grad)


@pytest.mark.parametrize("sa,sb", SHAPE_CLASSES)
def test_gradcheck_and_gradgradcheck(device, sa, sb):
    a = _randn(sa, device, torch.float64, True)
    b = _randn(sb, device, torch.float64, True)
    assert gradcheck(F.matmul, (a, b))
    assert gradgradcheck(F.matmul, (a, b))


@pytest.mark.parametrize("which", [0, 1])
def test_gradcheck_one_input_needs_grad(device, which):
    a = _randn((2, 1, 3, 4), device, torch.float64, which == 0)
    b = _randn((5, 4, 2), device, torch.float64, which == 1)
    assert gradcheck(F.matmul, (a, b))
    assert gradgradcheck(F.matmul, (a, b))


@pytest.mark.parametrize("sa,sb", SHAPE_CLASSES + EMPTY_SHAPES + [
    ((1,), (1,)), ((1, 1), (1, 1)), ((1, 7), (7, 1)), ((7, 1), (1, 9)),
    ((13, 29), (29, 11)), ((3, 2000), (2000, 5)), ((1, 513), (513, 3)),
    ((37,), (37, 70)), ((70, 37), (37,)), ((4, 6, 1, 5), (5, 3)), ((8, 40, 50), (8, 50, 30)),
    ((300, 20), (20, 2)), ((2, 20), (20, 300)),
])
def test_parity_float32(device, sa, sb):
    a = _randn(sa, device, requires_grad=True)
    b = _randn(sb, device, requires_grad=True)
    k = sa[-1]
    compare_with_native(F.matmul, torch.matmul, [a, b], scale=max(1.0, k / 100))


def test_parity_float64(device):
    a = _randn((2, 1, 7, 9), device, torch.float64, True)
    b = _randn((3, 9, 5), device, torch.float64, True)
    compare_with_native(F.matmul, torch.matmul, [a, b])


def _layouts(t):
    """t itself and non-contiguous tensors holding the same values (transposed storage, strided
    slices, expanded zero-stride dims)."""
    out = [t]
    if t.dim() >= 2:
        out.append(t.transpose(-1, -2).contiguous().transpose(-1, -2))
        big = torch.zeros(*t.shape[:-1], 2 * t.shape[-1] + 1, device=t.device, dtype=t.dtype)
        big[..., 1::2] = t
        out.append(big[..., 1::2])
    else:
        big = torch.zeros(3 * t.shape[0], device=t.device, dtype=t.dtype)
        big[::3] = t
        out.append(big[::3])
    return out


@pytest.mark.parametrize("sa,sb", [((9, 20), (20, 7)), ((33, 70), (70, 17)), ((20,), (20, 7)),
                                   ((9, 20), (20,)), ((50,), (50,)), ((3, 9, 20), (20, 7)),
                                   ((3, 9, 20), (3, 20, 7))])
def test_non_contiguous_inputs(device, sa, sb):
    a, b = _randn(sa, device), _randn(sb, device)
    expected = torch.matmul(a, b)
    for la in _layouts(a):
        for lb in _layouts(b):
            assert_close(F.matmul(la, lb), expected)


def test_expanded_and_permuted_batches(device):
    a = _randn((1, 6, 5), device).expand(4, 6, 5)        # zero batch stride
    b = _randn((5, 4, 3), device).permute(1, 0, 2)       # batch dim not outermost in memory
    c = _randn((4, 5, 1), device).expand(4, 5, 3)        # zero column stride
    assert_close(F.matmul(a, b), torch.matmul(a, b))
    assert_close(F.matmul(a, c), torch.matmul(a, c))
    row = _randn((1, 5), device).expand(7, 5)            # zero row stride
    assert_close(F.matmul(row, b[0]), torch.matmul(row, b[0]))


def test_backward_with_expanded_grad_and_transposed_inputs(device):
    a = _randn((6, 5), device).t().requires_grad_()
    b = _randn((2, 6, 4), device, requires_grad=True)
    compare_with_native(lambda x, y: F.matmul(x, y).sum(), lambda x, y: torch.matmul(x, y).sum(), [a, b])


# GEMM sizes around the register tile (MR x NR: 6 x 16 float / 6 x 8 double with AVX2, 12 x 32 /
# 12 x 16 with AVX-512) and the cache blocks (KC 128-256, MC 72-240, NC 2040-4080).
TILE_SIZES = [1, 2, 3, 4, 5, 6, 7, 8, 9, 11, 12, 13, 15, 16, 17, 23, 24, 25, 31, 32, 33, 47, 48, 49]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("s", TILE_SIZES)
def test_gemm_tile_edges(device, dtype, s):
    g = torch.Generator(device="cpu").manual_seed(s)
    for m, n, k in [(s, s, s), (s, 17, 9), (13, s, 5), (7, 11, s), (s, 1, 20), (1, s, 20)]:
        a = torch.randn(m, k, generator=g, dtype=dtype).to(device)
        b = torch.randn(k, n, generator=g, dtype=dtype).to(device)
        assert_close(F.matmul(a, b), torch.matmul(a.double(), b.double()).to(dtype))
        assert_close(F.matmul(b.t(), a.t()), torch.matmul(b.t().double(), a.t().double()).to(dtype))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("m,n,k", [(63, 64, 65), (64, 65, 63), (65, 63, 64), (255, 31, 257),
                                   (257, 255, 20), (143, 49, 300), (145, 130, 513),
                                   (241, 33, 129), (3, 4100, 10), (2, 2041, 7), (130, 5, 700)])
def test_gemm_block_edges(device, dtype, m, n, k):
    a = _randn((m, k), device, dtype)
    b = _randn((k, n), device, dtype)
    expected = torch.matmul(a.double(), b.double()).to(dtype)
    scale = max(1.0, k / 100)
    column_major_a, column_major_b = a.t().contiguous().t(), b.t().contiguous().t()
    assert_close(F.matmul(a, b), expected, scale=scale)
    assert_close(F.matmul(column_major_a, b), expected, scale=scale)
    assert_close(F.matmul(a, column_major_b), expected, scale=scale)
    assert_close(F.matmul(column_major_a, column_major_b), expected, scale=scale)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_long_dot_and_matrix_vector(device, dtype):
    """Long contractions: the dot product is split across threads, matrix-vector products
    stream A by rows or by columns."""
    v, w = _randn((200004,), device, dtype), _randn((200004,), device, dtype)
    assert_close(F.matmul(v, w), torch.matmul(v.double(), w.double()).to(dtype), scale=50)
    assert_close(F.matmul(v[::2], w[1::2]), torch.matmul(v[::2].double(), w[1::2].double()).to(dtype), scale=50)
    a, x = _randn((300, 5000), device, dtype), _randn((5000,), device, dtype)
    expected = torch.matmul(a.double(), x.double()).to(dtype)
    assert_close(F.matmul(a, x), expected, scale=10)
    assert_close(F.matmul(a.t().contiguous().t(), x), expected, scale=10)
    assert_close(F.matmul(x, a.t()), expected, scale=10)


def test_single_and_many_threads_agree():
    # The thread split changes the GEMM's blocking and so the order of each 300-term sum: the
    # results agree within the rounding bound of such sums, not to a fixed tolerance.
    a, b = torch.randn(200, 300), torch.randn(300, 150)
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1)
        one = F.matmul(a, b)
        torch.set_num_threads(max(2, threads))
        many = F.matmul(a, b)
    finally:
        torch.set_num_threads(threads)
    abs_terms = a.double().abs() @ b.double().abs()
    assert_within_rounding(one, many, abs_terms, a.shape[1], torch.float32)
    assert_within_rounding(one, torch.matmul(a, b), abs_terms, a.shape[1], torch.float32)


def test_nan_and_inf_propagate(device):
    a = _randn((4, 5), device)
    b = _randn((5, 3), device)
    a[1, 2] = float("nan")
    b[0, 1] = float("inf")
    torch.testing.assert_close(F.matmul(a, b), torch.matmul(a, b), equal_nan=True)


def test_out(device):
    a, b = _randn((3, 4), device), _randn((4, 5), device)
    out = torch.empty(7, device=device)
    result = F.matmul(a, b, out=out)
    assert result is out
    assert_close(out, torch.matmul(a, b))
    with pytest.raises(RuntimeError, match="expected out to be a torch.float32 tensor"):
        F.matmul(a, b, out=torch.empty(3, 5, device=device, dtype=torch.float64))
    with pytest.raises(RuntimeError, match="don't support automatic differentiation"):
        F.matmul(a.requires_grad_(), b, out=out)


def test_errors(device):
    f32, f64 = torch.ones(3, 3, device=device), torch.ones(3, 3, device=device, dtype=torch.float64)
    with pytest.raises(RuntimeError, match=r"torchext.matmul: expected self and other to have the same dtype"):
        torchext.ops.matmul(f32, f64)
    with pytest.raises(RuntimeError, match=r"torchext.matmul: expected self to be .*but got Long"):
        torchext.ops.matmul(torch.ones(3, 3, dtype=torch.int64, device=device), f32)
    with pytest.raises(RuntimeError, match=r"torchext.matmul: expected other to be .*but got Bool"):
        torchext.ops.matmul(f32, torch.ones(3, 3, dtype=torch.bool, device=device))
    with pytest.raises(RuntimeError, match=r"torchext.matmul: both arguments need to be at least 1-D"):
        torchext.ops.matmul(torch.tensor(2.0, device=device), f32)
    for sa, sb in [((2, 3), (4, 5)), ((3,), (4,)), ((2, 3), (4,)), ((3,), (4, 5)), ((2, 2, 3), (2, 4, 5))]:
        with pytest.raises(RuntimeError, match=r"torchext.matmul: size mismatch, cannot multiply self of shape"):
            torchext.ops.matmul(_randn(sa, device), _randn(sb, device))
    with pytest.raises(RuntimeError, match=r"torchext.matmul: batch dimensions of self .* cannot be broadcast"):
        torchext.ops.matmul(_randn((2, 3, 4), device), _randn((3, 4, 5), device))


def test_errors_match_native_refusals(device):
    """torch.matmul refuses mixed float32/float64 too; ours must not silently promote."""
    a, b = _randn((3, 3), device), _randn((3, 3), device, torch.float64)
    with pytest.raises(RuntimeError):
        torch.matmul(a, b)
    with pytest.raises(RuntimeError, match="torchext.matmul"):
        F.matmul(a, b)


@pytest.mark.parametrize("sa,sb", [((3, 4), (4, 5)), ((4,), (4,)), ((2, 1, 3, 4), (5, 4, 2)),
                                   ((3,), (2, 3, 4)), ((2, 3, 4), (4,)), ((0, 3), (3, 2))])
def test_opcheck(device, sa, sb):
    torch.library.opcheck(torch.ops.torchext.matmul.default, (_randn(sa, device), _randn(sb, device)))


def test_opcheck_transposed(device):
    a, b = _randn((5, 3), device).t(), _randn((6, 5), device).t()
    torch.library.opcheck(torch.ops.torchext.matmul.default, (a, b))


def test_torch_compile_fullgraph(device):
    def f(a, b, v):
        return F.matmul(F.matmul(a, b), v)
    a = _randn((2, 1, 3, 4), device, requires_grad=True)
    b = _randn((5, 4, 6), device, requires_grad=True)
    v = _randn((6,), device, requires_grad=True)
    compiled = torch.compile(f, backend="aot_eager", fullgraph=True)
    assert_close(compiled(a, b, v), f(a, b, v))
    got = torch.autograd.grad(compiled(a, b, v).sum(), [a, b, v])
    want = torch.autograd.grad(torch.matmul(torch.matmul(a, b), v).sum(), [a, b, v])
    for x, y in zip(got, want):
        assert_close(x, y)


@pytest.mark.parametrize("capability", torchext.backends.cpu.supported_capabilities())
def test_gemm_contract(capability):
    """The GEMM's alpha/beta/strided-C contract, which matmul does not exercise, checked by a small
    C++ program built against the same kernel source for each capability this CPU runs
    (tests/cpp/gemm_contract.cpp)."""
    from torch.utils import cpp_extension
    from torchext.backends.cpu_flags import CPU_CAPABILITIES

    exe = os.path.join(ROOT, "build", f"gemm_contract_{capability}")
    os.makedirs(os.path.dirname(exe), exist_ok=True)
    cmd = [os.environ.get("CXX", "c++"), "-O2", "-std=c++17", "-fopenmp", "-Wno-unknown-pragmas",
           f"-DTORCHEXT_CPU_CAPABILITY={capability.upper()}", *CPU_CAPABILITIES[capability],
           os.path.join(ROOT, "tests", "cpp", "gemm_contract.cpp"), "-o", exe]
    cmd += [f"-I{p}" for p in cpp_extension.include_paths()]
    for lib in cpp_extension.library_paths():
        cmd += [f"-L{lib}", f"-Wl,-rpath,{lib}"]
    cmd += ["-lc10", "-ltorch_cpu"]
    subprocess.run(cmd, check=True)
    for threads in ("1", "2"):
        run = subprocess.run([exe], env={**os.environ, "OMP_NUM_THREADS": threads},
                             capture_output=True, text=True)
        assert run.returncode == 0, run.stdout + run.stderr
        assert run.stdout.startswith("0 of "), run.stdout
