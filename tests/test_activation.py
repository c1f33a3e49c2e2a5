import pytest
import torch
import torch.nn.functional as NF
from torch.autograd import gradcheck, gradgradcheck

import torchext
from torchext import functional as F
from helpers import compare_with_native

SHAPES = [(), (0,), (1,), (7,), (3, 5), (2, 3, 17, 19), (1, 64, 9, 9)]


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_relu_parity(device, shape, dtype):
    x = torch.randn(shape, device=device, dtype=dtype, requires_grad=True)
    compare_with_native(F.relu, NF.relu, [x])


def test_relu_non_contiguous(device):
    x = torch.randn(6, 8, device=device).t().requires_grad_()
    compare_with_native(F.relu, NF.relu, [x])


def test_relu_propagates_nan(device):
    x = torch.tensor([float("nan"), -1.0, float("inf"), -float("inf")], device=device)
    torch.testing.assert_close(F.relu(x), NF.relu(x), equal_nan=True)


def test_relu_inplace_matches_native(device):
    base = torch.randn(4, 5, device=device, requires_grad=True)
    a, b = base.detach().clone().requires_grad_(), base.detach().clone().requires_grad_()
    ya = F.relu(a * 1.0, inplace=True)
    yb = NF.relu(b * 1.0, inplace=True)
    torch.testing.assert_close(ya, yb)
    g = torch.randn_like(yb)
    ya.backward(g)
    yb.backward(g)
    torch.testing.assert_close(a.grad, b.grad)


def test_relu_inplace_on_leaf_requiring_grad_raises(device):
    x = torch.randn(3, device=device, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        F.relu(x, inplace=True)


def test_relu_inplace_non_contiguous(device):
    x = torch.randn(6, 8, device=device)
    expected = NF.relu(x.t())
    y = x.t()
    F.relu_(y)
    torch.testing.assert_close(y, expected)


def test_relu_gradcheck(device):
    # Keep values away from the kink at 0, where finite differences are meaningless.
    x = torch.randn(3, 4, dtype=torch.float64, device=device)
    x = (x + 0.1 * x.sign()).requires_grad_()
    assert gradcheck(F.relu, (x,))
    assert gradgradcheck(F.relu, (x,))


def test_add_relu_gradcheck_and_parity(device):
    a = torch.randn(2, 3, 4, 4, dtype=torch.float64, device=device, requires_grad=True)
    b = torch.randn(2, 3, 4, 4, dtype=torch.float64, device=device, requires_grad=True)
    assert gradcheck(F.add_relu, (a, b))
    assert gradgradcheck(F.add_relu, (a, b))
    compare_with_native(F.add_relu, lambda x, y: NF.relu(x + y), [a.float(), b.float()])


def test_add_relu_only_one_input_needs_grad(device):
    a = torch.randn(5, device=device, requires_grad=True)
    b = torch.randn(5, device=device)
    compare_with_native(F.add_relu, lambda x, y: NF.relu(x + y), [a, b])


def test_errors(device):
    with pytest.raises(RuntimeError, match=r"torchext.relu: expected self to be"):
        torchext.ops.relu(torch.ones(3, dtype=torch.int64, device=device))
    with pytest.raises(RuntimeError, match=r"torchext.add_relu: expected other of shape"):
        torchext.ops.add_relu(torch.ones(3, device=device), torch.ones(4, device=device))
    with pytest.raises(RuntimeError, match=r"torchext.add_relu: expected self and other to have the same dtype"):
        torchext.ops.add_relu(torch.ones(3, device=device), torch.ones(3, device=device, dtype=torch.float64))
    with pytest.raises(RuntimeError, match=r"torchext.relu_backward: expected grad_output of shape"):
        torchext.ops.relu_backward(torch.ones(3, device=device), torch.ones(4, device=device))
