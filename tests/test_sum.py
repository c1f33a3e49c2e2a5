"""sum (all elements, dims, keepdim, dtype) and sum_to_size: parity with native over layouts and
the kernel's parallel paths, accuracy on long reductions, gradients to second order, errors,
opcheck."""
import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck

import torchext
from torchext import functional as F
from torchext.functions.reduction import sum_to_size
from helpers import assert_close, assert_within_rounding, compare_with_native

SHAPES = [(), (0,), (0, 3), (3, 0), (1,), (7,), (3, 5), (2, 3, 4), (5, 1, 3), (1, 64, 9, 9), (33, 17),
          (2, 3, 4, 5)]


def _dim_options(ndim):
    options = [None, []]
    options += [d for d in range(-ndim, ndim)]
    if ndim >= 2:
        options += [[0, ndim - 1], [-1, 0], list(range(ndim))]
    if ndim >= 3:
        options += [[1], [0, 2], [1, ndim - 1]]
    if ndim == 0:
        options += [0, -1, [0]]
    return options


CASES = [(shape, dim) for shape in SHAPES for dim in _dim_options(len(shape))]


def _sum_pair(dim, keepdim, dtype=None):
    return (lambda t: F.sum(t, dim, keepdim, dtype=dtype)), (lambda t: torch.sum(t, dim, keepdim, dtype=dtype))


@pytest.mark.parametrize("keepdim", [False, True])
@pytest.mark.parametrize("shape,dim", CASES, ids=str)
def test_sum_parity(device, shape, dim, keepdim):
    x = torch.randn(shape, device=device, requires_grad=True)
    ours, native = _sum_pair(dim, keepdim)
    assert ours(x).shape == native(x).shape
    compare_with_native(ours, native, [x])


def _layouts(device):
    base = torch.randn(6, 10, 4, device=device)
    return {
        "transposed": base.transpose(0, 2),
        "strided": base[:, ::3, 1:],
        "expanded": torch.randn(6, 1, 4, device=device).expand(6, 10, 4),
        "permuted": base.permute(1, 2, 0),
        "channels_last": torch.randn(2, 5, 3, 7, device=device).to(memory_format=torch.channels_last),
        "sliced_inner": base[..., 1:3],
    }


@pytest.mark.parametrize("layout", ["transposed", "strided", "expanded", "permuted", "channels_last",
                                    "sliced_inner"])
@pytest.mark.parametrize("keepdim", [False, True])
def test_sum_non_contiguous(device, layout, keepdim):
    x = _layouts(device)[layout]
    for dim in _dim_options(x.dim()):
        ours, native = _sum_pair(dim, keepdim)
        compare_with_native(ours, native, [x.detach().requires_grad_()])


@pytest.mark.parametrize("in_dtype,dtype", [(torch.float32, torch.float64), (torch.float64, torch.float32),
                                            (torch.float32, torch.float32)])
@pytest.mark.parametrize("dim", [None, 1, [0, 2]], ids=str)
def test_sum_dtype(device, in_dtype, dtype, dim):
    x = torch.randn(3, 4, 5, device=device, dtype=in_dtype, requires_grad=True)
    ours, native = _sum_pair(dim, False, dtype)
    assert ours(x).dtype == dtype
    compare_with_native(ours, native, [x], dtype=torch.float32)
    (g,) = torch.autograd.grad(ours(x).sum(), x)
    assert g.dtype == in_dtype


@pytest.fixture(params=[1, 4], ids=["1thread", "4threads"])
def threads(request):
    """Runs a test single-threaded and with more threads than outputs, to reach both the
    per-output and the split-reduction paths."""
    before = torch.get_num_threads()
    torch.set_num_threads(request.param)
    yield request.param
    torch.set_num_threads(before)


LARGE = [((10**6,), None), ((1000, 1000), None), ((100000, 10), 0), ((100000, 3), [0]), ((10, 100000), 1),
         ((2, 300000), 1), ((300, 3, 300), [0, 2]), ((3, 300, 300), [1, 2]), ((40000, 300), 0),
         ((300, 40000), 0)]


@pytest.mark.parametrize("shape,dim", LARGE, ids=str)
def test_sum_large_accuracy(device, threads, shape, dim):
    x = torch.rand(shape, device=device) - 0.3  # not zero-mean: a sum with little cancellation
    exact = torch.sum(x.double(), dim)
    got = F.sum(x, dim)
    assert_close(got, torch.sum(x, dim), scale=1.0)
    torch.testing.assert_close(got.double(), exact, rtol=1e-5, atol=1e-5)


def test_sum_large_transposed(device, threads):
    # Zero-mean values cancel, and the thread count changes how the sums are split: each result
    # is judged by the rounding bound of its number of terms against the float64 sum.
    x = torch.randn(3000, 500, device=device)
    for dim in (0, 1, None):
        terms = x.numel() if dim is None else x.t().shape[dim]
        assert_within_rounding(F.sum(x.t(), dim), torch.sum(x.t().double(), dim),
                               torch.sum(x.t().double().abs(), dim), terms, torch.float32)


def test_sum_of_a_million_float32_matches_native(device):
    x = torch.randn(10**6, device=device)
    torch.testing.assert_close(F.sum(x), torch.sum(x), rtol=1e-5, atol=1e-3)
    y = torch.rand(10**6, device=device)
    torch.testing.assert_close(F.sum(y), torch.sum(y), rtol=1e-5, atol=0)


def test_sum_empty_is_zero(device):
    assert F.sum(torch.empty(0, device=device)).item() == 0.0
    torch.testing.assert_close(F.sum(torch.empty(0, 3, device=device), 0), torch.zeros(3, device=device))
    assert F.sum(torch.empty(3, 0, device=device), 0).shape == (0,)


def test_sum_nan_inf(device):
    x = torch.tensor([[1.0, float("nan")], [float("inf"), 2.0], [-float("inf"), float("inf")]], device=device)
    for dim in (None, 0, 1):
        torch.testing.assert_close(F.sum(x, dim), torch.sum(x, dim), equal_nan=True)


@pytest.mark.parametrize("dim,keepdim", [(None, False), ([], True), (0, False), (1, True), ([0, 2], False),
                                         ([-1, 0], True), (None, True)], ids=str)
def test_sum_gradcheck(device, dim, keepdim):
    x = torch.randn(2, 3, 4, device=device, dtype=torch.float64, requires_grad=True)
    fn = lambda t: F.sum(t, dim, keepdim)  # noqa: E731
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


def test_sum_gradcheck_0dim_and_dtype(device):
    x = torch.randn((), device=device, dtype=torch.float64, requires_grad=True)
    assert gradgradcheck(lambda t: F.sum(t, 0), (x,))
    y = torch.randn(3, 2, device=device, dtype=torch.float64, requires_grad=True)
    assert gradgradcheck(lambda t: F.sum(t, 1, dtype=torch.float64), (y,))


@pytest.mark.parametrize("grad_shape,shape", [((4, 3, 5), (3, 5)), ((4, 3, 5), (3, 1)), ((4, 3, 5), (1, 5)),
                                              ((4, 3, 5), ()), ((4, 3, 5), (4, 3, 5)), ((2, 1, 5), (1, 1))],
                         ids=str)
def test_sum_to_size(device, grad_shape, shape):
    g = torch.randn(grad_shape, device=device, dtype=torch.float64, requires_grad=True)
    out = sum_to_size(g, shape)
    assert out.shape == shape
    torch.testing.assert_close(out, g.sum_to_size(shape))
    assert gradgradcheck(lambda t: sum_to_size(t, shape), (g,))


def test_errors(device):
    x = torch.ones(2, 3, device=device)
    with pytest.raises(RuntimeError, match=r"torchext.sum: dim 0 appears multiple times in the list of dims"):
        F.sum(x, (0, 0))
    with pytest.raises(RuntimeError, match=r"torchext.sum: dim 1 appears multiple times"):
        F.sum(x, (1, -1))
    with pytest.raises(IndexError, match=r"torchext.sum: dimension out of range \(expected to be in range of "
                                         r"\[-2, 1\], but got 2\)"):
        F.sum(x, 2)
    with pytest.raises(IndexError, match=r"range of \[-1, 0\], but got 1"):
        F.sum(torch.ones((), device=device), 1)
    with pytest.raises(RuntimeError, match=r"torchext.sum: dim 0 appears multiple times"):
        F.sum(torch.ones((), device=device), [0, -1])
    with pytest.raises(RuntimeError, match=r"torchext.sum: expected self to be .* but got Long"):
        F.sum(torch.ones(3, dtype=torch.int64, device=device))
    with pytest.raises(RuntimeError, match=r"torchext.sum: expected dtype to be float32 or float64 but got Long"):
        F.sum(x, dtype=torch.int64)


OPCHECK = [
    ((3, 5, 2), ([0, 2], True), {}),
    ((3, 5, 2), (), {"dtype": torch.float64}),
    ((3, 5, 2), ([1],), {}),
    ((0, 4), ([0],), {}),
    ((), (), {}),
    ((4, 6), ([], True), {}),
]


@pytest.mark.parametrize("shape,args,kwargs", OPCHECK, ids=str)
def test_opcheck(device, shape, args, kwargs):
    torch.library.opcheck(torch.ops.torchext.sum.default, (torch.randn(shape, device=device), *args), kwargs)


def test_opcheck_transposed(device):
    torch.library.opcheck(torch.ops.torchext.sum.default, (torch.randn(5, 3, device=device).t(), [1]))


def test_fake_matches_real_shapes(device):
    from torch._subclasses.fake_tensor import FakeTensorMode
    x = torch.randn(2, 3, 4, device=device)
    for dim in _dim_options(3):
        for keepdim in (False, True):
            real = torchext.ops.sum(x, [dim] if isinstance(dim, int) else dim, keepdim)
            with FakeTensorMode() as mode:
                fake = torchext.ops.sum(mode.from_tensor(x), [dim] if isinstance(dim, int) else dim, keepdim)
            assert fake.shape == real.shape and fake.dtype == real.dtype
