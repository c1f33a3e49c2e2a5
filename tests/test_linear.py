import pytest
import torch
import torch.nn.functional as NF
from torch.autograd import gradcheck

import torchext
from torchext import functional as F
from helpers import compare_with_native
from torchext.recorder import OpRecorder


def linear_inputs(device, x_shape, w_shape, bias, dtype=torch.float64, requires_grad=(True, True, True)):
    x = torch.randn(x_shape, dtype=dtype, device=device, requires_grad=requires_grad[0])
    w = torch.randn(w_shape, dtype=dtype, device=device, requires_grad=requires_grad[1])
    b = torch.randn(w_shape[0], dtype=dtype, device=device, requires_grad=requires_grad[2]) if bias else None
    return x, w, b


# (input shape, weight shape): 1-D input, plain rows, several leading dimensions, size-1 dims.
SHAPES = [((5,), (3, 5)), ((4, 5), (3, 5)), ((2, 3, 5), (4, 5)), ((2, 1, 3, 4), (1, 4)), ((1, 1), (6, 1))]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("x_shape,w_shape", SHAPES)
def test_gradcheck(device, x_shape, w_shape, bias):
    x, w, b = linear_inputs(device, x_shape, w_shape, bias)
    assert gradcheck(F.linear, (x, w, b))


@pytest.mark.parametrize("requires_grad", [(True, False, False), (False, True, False), (False, False, True),
                                           (False, True, True), (True, False, True)])
def test_gradcheck_some_inputs(device, requires_grad):
    x, w, b = linear_inputs(device, (2, 3, 4), (5, 4), True, requires_grad=requires_grad)
    assert gradcheck(F.linear, (x, w, b))


def test_gradcheck_strided_operands(device):
    x = torch.randn(5, 4, dtype=torch.float64, device=device).t().requires_grad_()  # (4, 5), transposed
    w = torch.randn(5, 3, dtype=torch.float64, device=device).t().requires_grad_()  # (3, 5), transposed
    b = torch.randn(6, dtype=torch.float64, device=device)[::2].requires_grad_()
    assert gradcheck(F.linear, (x, w, b))


@pytest.mark.parametrize("x_shape,w_shape,bias", [
    ((8, 512), (1000, 512), True),  # ResNet18's fc at batch 8
    ((1, 512), (1000, 512), True),
    ((3, 7, 33), (17, 33), True),
    ((5, 1), (1, 1), False),
    ((129,), (65, 129), True),
])
def test_parity(device, x_shape, w_shape, bias):
    x, w, b = linear_inputs(device, x_shape, w_shape, bias, dtype=torch.float32)
    compare_with_native(F.linear, NF.linear, [x, w, b], scale=10)


def test_parity_non_contiguous(device):
    x = torch.randn(6, 9, 4, device=device).transpose(0, 2).requires_grad_()  # (4, 9, 6)
    w = torch.randn(6, 7, device=device).t().requires_grad_()  # (7, 6)
    b = torch.randn(7, device=device, requires_grad=True)
    compare_with_native(F.linear, NF.linear, [x, w, b])
    compare_with_native(F.linear, NF.linear, [x[:, ::2], w, None])


@pytest.mark.parametrize("x_shape,w_shape", [((0, 5), (3, 5)), ((2, 0, 5), (3, 5)), ((4, 0), (3, 0)), ((4, 5), (0, 5))])
def test_empty(device, x_shape, w_shape):
    x, w, b = linear_inputs(device, x_shape, w_shape, True, dtype=torch.float32)
    compare_with_native(F.linear, NF.linear, [x, w, b])


def test_one_dimensional_weight(device):
    x, w, _ = linear_inputs(device, (3, 4), (4,), False, dtype=torch.float32)
    compare_with_native(F.linear, NF.linear, [x, w])


@pytest.mark.parametrize("requires_grad,expected_mask", [
    ((True, False, False), [True, False, False]),
    ((False, True, True), [False, True, True]),
    ((True, True, False), [True, True, False]),
])
def test_backward_computes_only_what_is_needed(device, requires_grad, expected_mask):
    x, w, b = linear_inputs(device, (3, 4), (5, 4), True, dtype=torch.float32, requires_grad=requires_grad)
    out = F.linear(x, w, b)
    with OpRecorder() as rec:
        out.sum().backward()
    masks = [list(args[-1]) for args in rec.torchext_calls("linear_backward")]
    assert masks == [expected_mask]
    for t, needed in zip((x, w, b), requires_grad):
        assert (t.grad is not None) == needed


def test_errors(device):
    x = torch.randn(3, 4, device=device)
    w = torch.randn(5, 4, device=device)
    with pytest.raises(RuntimeError, match=r"torchext.linear: expected input's last dimension \(3\) to equal weight's in_features \(4\)"):
        torchext.ops.linear(torch.randn(4, 3, device=device), w)
    with pytest.raises(RuntimeError, match=r"torchext.linear: expected input to have at least 1 dimension"):
        torchext.ops.linear(torch.tensor(1.0, device=device), w)
    with pytest.raises(RuntimeError, match=r"torchext.linear: expected weight to be 2-D"):
        torchext.ops.linear(x, w[None])
    with pytest.raises(RuntimeError, match=r"torchext.linear: expected bias of shape \[5\]"):
        torchext.ops.linear(x, w, torch.zeros(4, device=device))
    with pytest.raises(RuntimeError, match=r"torchext.linear: expected input to be .*float64 but got (Long|Bool|Int)"):
        torchext.ops.linear(x.int(), w)
    with pytest.raises(RuntimeError, match=r"torchext.linear: expected input and weight to have the same dtype"):
        torchext.ops.linear(x, w.double())
    with pytest.raises(RuntimeError, match=r"torchext.linear_backward: expected grad_output of shape \[3, 5\]"):
        torchext.ops.linear_backward(torch.randn(3, 4, device=device), x, w, [True, True, True])


@pytest.mark.parametrize("x_shape", [(3, 4), (2, 3, 4), (4,)])
def test_opcheck(device, x_shape):
    x = torch.randn(x_shape, device=device)
    w = torch.randn(5, 4, device=device)
    b = torch.randn(5, device=device)
    torch.library.opcheck(torch.ops.torchext.linear.default, (x, w, b))
    torch.library.opcheck(torch.ops.torchext.linear.default, (x, w, None))
    g = torch.randn(*x_shape[:-1], 5, device=device)
    for mask in ([True, True, True], [True, False, False], [False, True, True]):
        torch.library.opcheck(torch.ops.torchext.linear_backward.default, (g, x, w, mask))


@pytest.mark.parametrize("shape", [(3, 4), (2, 3, 4), (4,)])
def test_output_takes_in_place_ops_as_native(shape):
    # The op's output is not a view, so autograd lets an in-place op follow (MobileNetV3's
    # Linear -> Hardswish(inplace=True)).
    x = torch.randn(*shape, dtype=torch.float64, requires_grad=True)
    w = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)
    ours = F.linear(x, w).mul_(2)
    native = torch.nn.functional.linear(x, w).mul_(2)
    torch.testing.assert_close(ours, native)
    grads = torch.autograd.grad(ours.sum(), (x, w))
    torch.testing.assert_close(grads, torch.autograd.grad(native.sum(), (x, w)))
