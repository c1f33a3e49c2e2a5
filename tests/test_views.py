"""t, transpose and flatten: views (sharing storage) equal to native, with gradients to second
order and native-like errors."""
import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck

from torchext import functional as F
from helpers import compare_with_native


@pytest.mark.parametrize("shape", [(), (5,), (3, 4), (1, 7), (0, 3)], ids=str)
def test_t_parity(device, shape):
    x = torch.randn(shape, device=device, requires_grad=True)
    compare_with_native(F.t, torch.t, [x])


TRANSPOSE_CASES = [((3, 4), 0, 1), ((3, 4), 1, 0), ((3, 4), -1, -2), ((2, 3, 4), 0, 2), ((2, 3, 4), 1, 1),
                   ((2, 3, 4, 5), -3, 3), ((5,), 0, -1), ((), 0, -1), ((0, 2, 3), 0, 2)]


@pytest.mark.parametrize("shape,dim0,dim1", TRANSPOSE_CASES, ids=str)
def test_transpose_parity(device, shape, dim0, dim1):
    x = torch.randn(shape, device=device, requires_grad=True)
    compare_with_native(lambda t: F.transpose(t, dim0, dim1), lambda t: torch.transpose(t, dim0, dim1), [x])


FLATTEN_CASES = [((2, 3, 4), 0, -1), ((2, 3, 4), 1, -1), ((2, 3, 4), 0, 1), ((2, 3, 4), -2, -1),
                 ((2, 3, 4, 5), 1, 2), ((2, 3), 1, 1), ((5,), 0, 0), ((), 0, -1), ((0, 3, 2), 1, 2),
                 ((1, 512, 1, 1), 1, -1)]


@pytest.mark.parametrize("shape,start,end", FLATTEN_CASES, ids=str)
def test_flatten_parity(device, shape, start, end):
    x = torch.randn(shape, device=device, requires_grad=True)
    compare_with_native(lambda t: F.flatten(t, start, end), lambda t: torch.flatten(t, start, end), [x])


def test_flatten_default_arguments(device):
    x = torch.randn(2, 3, 4, device=device, requires_grad=True)
    compare_with_native(F.flatten, torch.flatten, [x])
    compare_with_native(lambda t: F.flatten(t, 1), lambda t: torch.flatten(t, 1), [x])


def test_views_share_storage(device):
    x = torch.randn(3, 4, device=device)
    for view in (F.t(x), F.transpose(x, 0, 1), F.flatten(x)):
        assert view.data_ptr() == x.data_ptr()
    y = torch.randn(2, 3, 4, device=device)
    flat = F.flatten(y, 1)
    y[0, 0, 0] = 42.0
    assert flat[0, 0].item() == 42.0


def test_flatten_non_contiguous_copies_correctly(device):
    x = torch.randn(3, 4, 5, device=device).transpose(0, 2).requires_grad_()
    compare_with_native(F.flatten, torch.flatten, [x])
    compare_with_native(lambda t: F.flatten(t, 0, 1), lambda t: torch.flatten(t, 0, 1), [x])


def test_flatten_with_nothing_to_merge_returns_input(device):
    x = torch.randn(2, 3, device=device)
    assert F.flatten(x, 1) is x and torch.flatten(x, 1) is x
    assert F.flatten(torch.randn((), device=device)).shape == (1,)


def test_transposed_result_feeds_other_ops(device):
    a = torch.randn(3, 4, device=device, requires_grad=True)
    b = torch.randn(4, 3, device=device, requires_grad=True)
    compare_with_native(lambda a, b: F.mul(F.t(a), b), lambda a, b: torch.mul(a.t(), b), [a, b])


@pytest.mark.parametrize("fn", [
    lambda x: F.t(x),
    lambda x: F.transpose(x, 0, 1),
    lambda x: F.flatten(x),
    lambda x: F.flatten(F.t(x), 0, 1),
    lambda x: F.flatten(F.transpose(F.t(x), 0, 1)),
], ids=["t", "transpose", "flatten", "flatten_of_t", "flatten_transpose_t"])
def test_gradcheck_and_gradgradcheck(device, fn):
    x = torch.randn(3, 4, device=device, dtype=torch.float64, requires_grad=True)
    assert gradcheck(fn, (x,))
    assert gradgradcheck(fn, (x,))


def test_errors(device):
    with pytest.raises(RuntimeError, match=r"torchext.t: expects a tensor with <= 2 dimensions, but self is 3D"):
        F.t(torch.ones(2, 3, 4, device=device))
    with pytest.raises(IndexError, match=r"torchext.transpose: dimension out of range \(expected to be in "
                                         r"range of \[-2, 1\], but got 2\)"):
        F.transpose(torch.ones(2, 3, device=device), 0, 2)
    with pytest.raises(IndexError, match=r"torchext.flatten: dimension out of range"):
        F.flatten(torch.ones(2, 3, device=device), 3)
    with pytest.raises(RuntimeError, match=r"torchext.flatten: start_dim cannot come after end_dim"):
        F.flatten(torch.ones(2, 3, device=device), 1, 0)


def test_in_place_op_after_a_view_behaves_as_native():
    # AlexNet: flatten, then an in-place op (dropout, relu_) on the view: native view semantics,
    # gradients through the base included.
    x = torch.randn(2, 3, 4, dtype=torch.float64, requires_grad=True)
    views = [(lambda t: F.flatten(t, 1), lambda t: torch.flatten(t, 1)),
             (lambda t: F.transpose(t, 0, 2), lambda t: torch.transpose(t, 0, 2)),
             (lambda t: F.t(t[0]), lambda t: torch.t(t[0]))]
    for view, native_view in views:
        ours, native = view(x * 1).relu_(), native_view(x * 1).relu_()
        torch.testing.assert_close(ours, native)
        (grad,) = torch.autograd.grad(ours.square().sum(), x)
        torch.testing.assert_close(grad, torch.autograd.grad(native.square().sum(), x)[0])
