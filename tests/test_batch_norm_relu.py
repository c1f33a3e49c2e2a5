"""torchext.batch_norm_relu: relu(batch_norm(x) + residual) fused, against native's batch_norm,
add and relu run one after another; and its use in the patched ResNet blocks."""
import pytest
import torch
import torch.nn.functional as NF
from torch import nn
from torch.autograd import gradcheck
from torchvision.models import resnet18

import torchext
from torchext import functional as F
from helpers import assert_close

SHAPES = [(8, 64, 16, 16), (2, 3, 5, 7), (5, 3), (3, 2, 4), (4, 5, 1, 1), (2, 16, 3, 3)]


def _native_preactivation(x, rm, rv, w, b, training, residual):
    z = NF.batch_norm(x, rm, rv, w, b, training, 0.1, 1e-5)
    return z if residual is None else z + residual


def _leaf(t):
    return None if t is None else t.detach().clone().requires_grad_(True)


def _case(shape, device, affine, residual, channels_last, dtype=torch.float32):
    c = shape[1]
    opts = dict(device=device, dtype=dtype)
    x = torch.randn(shape, **opts) * 2 + 0.3
    if channels_last:
        x = x.contiguous(memory_format=torch.channels_last)
    w, b = (torch.randn(c, **opts), torch.randn(c, **opts)) if affine else (None, None)
    r = torch.randn(shape, **opts) if residual else None
    return x, w, b, r


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("residual", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_matches_native(device, shape, training, residual, affine):
    x, w, b, r = _case(shape, device, affine, residual, channels_last=False)
    _check(x, w, b, r, training)


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("residual", [True, False])
def test_channels_last_matches_native(device, training, residual):
    x, w, b, r = _case((3, 8, 5, 6), device, True, residual, channels_last=True)
    out = _check(x, w, b, r, training)
    assert out.is_contiguous(memory_format=torch.channels_last)


def test_non_contiguous_inputs(device):
    x, w, b, r = _case((4, 6, 7, 5), device, True, True, channels_last=False)
    _check(x.transpose(2, 3), w, b, r.transpose(2, 3), True)


def _check(x, w, b, r, training):
    """Forward, running stats and every gradient against native's unfused ops. relu's mask is
    taken from our output for native's backward too (an element rounding to the other side of
    zero would otherwise move a whole gradient), after checking the masks agree wherever the
    pre-activation is not within rounding of zero."""
    c = x.shape[1]
    stats = lambda: (torch.linspace(-1, 1, c, device=x.device), torch.linspace(0.5, 2, c, device=x.device))
    (rm_a, rv_a), (rm_b, rv_b) = stats(), stats()
    ours_in = [_leaf(t) for t in (x, r, w, b)]
    native_in = [_leaf(t) for t in (x, r, w, b)]
    out = F.batch_norm_relu(ours_in[0], rm_a, rv_a, ours_in[2], ours_in[3], training, 0.1, 1e-5,
                            residual=ours_in[1])
    z = _native_preactivation(native_in[0], rm_b, rv_b, native_in[2], native_in[3], training, native_in[1])
    assert_close(out, NF.relu(z))
    assert_close(rm_a, rm_b)
    assert_close(rv_a, rv_b)
    near_zero = z.detach().abs() <= 1e-5 * (1 + z.detach().abs().max())
    assert torch.equal((out > 0)[~near_zero], (z > 0)[~near_zero])
    dy = torch.randn_like(out)
    got = torch.autograd.grad(out, [t for t in ours_in if t is not None], dy)
    want = torch.autograd.grad(z, [t for t in native_in if t is not None], torch.where(out > 0, dy, 0))
    for g, e in zip(got, want):
        assert_close(g, e, scale=10.0)  # weight/bias grads sum over N*H*W values
    return out


def test_nan_propagates_as_native(device):
    x = torch.randn(2, 3, 4, 4, device=device)
    x[0, 1, 2, 2] = float("nan")
    r = torch.randn_like(x)
    r[1, 0, 0, 0] = float("nan")
    ours = F.batch_norm_relu(x, None, None, training=True, residual=r)
    native = NF.relu(NF.batch_norm(x, None, None, training=True) + r)
    torch.testing.assert_close(ours, native, equal_nan=True)


@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 4), (2, 3, 3, 4)])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("residual", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_gradcheck(device, shape, training, residual, affine):
    x, w, b, r = _case(shape, device, affine, residual, channels_last=False, dtype=torch.float64)
    rm, rv = (torch.zeros(shape[1], device=device, dtype=torch.float64),
              torch.ones(shape[1], device=device, dtype=torch.float64))
    fn = lambda x, r, w, b: F.batch_norm_relu(x, rm.clone(), rv.clone(), w, b, training, residual=r)
    assert gradcheck(fn, tuple(_leaf(t) for t in (x, r, w, b)))


def test_gradcheck_channels_last(device):
    x, w, b, r = _case((2, 3, 3, 4), device, True, True, channels_last=True, dtype=torch.float64)
    fn = lambda x, r, w, b: F.batch_norm_relu(x, None, None, w, b, True, residual=r)
    assert gradcheck(fn, tuple(_leaf(t) for t in (x, r, w, b)))


def test_errors(device):
    ops = torchext.ops
    x = torch.randn(4, 3, 5, device=device)
    with pytest.raises(RuntimeError, match=r"torchext.batch_norm_relu: expected residual of shape"):
        ops.batch_norm_relu(x, torch.randn(4, 3, 4, device=device), None, None, None, None, True, 0.1, 1e-5)
    with pytest.raises(RuntimeError, match=r"torchext.batch_norm_relu: expected input and residual to have the same dtype"):
        ops.batch_norm_relu(x, x.double(), None, None, None, None, True, 0.1, 1e-5)
    with pytest.raises(RuntimeError, match=r"torchext.batch_norm_relu: expected input to have at least 2 dims"):
        ops.batch_norm_relu(torch.randn(5, device=device), None, None, None, None, None, True, 0.1, 1e-5)
    ones = torch.ones(3, device=device)
    with pytest.raises(RuntimeError, match=r"torchext.batch_norm_relu_backward: expected output of shape"):
        ops.batch_norm_relu_backward(x, x[:, :, :4], x, None, None, None, ones, ones, True, 1e-5,
                                     [True, True, True, True])


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("residual", [True, False])
def test_opcheck(device, training, residual):
    x, w, b, r = _case((3, 4, 5, 2), device, True, residual, channels_last=False)
    rm, rv = torch.zeros(4, device=device), torch.ones(4, device=device)
    torch.library.opcheck(torch.ops.torchext.batch_norm_relu.default,
                          (x, r, w, b, rm.clone(), rv.clone(), training, 0.1, 1e-5))
    out, save_mean, save_invstd = torchext.ops.batch_norm_relu(x, r, w, b, rm.clone(), rv.clone(),
                                                               training, 0.1, 1e-5)
    for mask in ([True, residual, True, True], [False, residual, True, False], [True, False, False, False]):
        torch.library.opcheck(torch.ops.torchext.batch_norm_relu_backward.default,
                              (torch.randn_like(x), out, x, w, rm, rv, save_mean, save_invstd, training,
                               1e-5, mask))


def _block_pair():
    torch.manual_seed(0)
    native = resnet18(num_classes=10).layer1[0]
    ours = torchext.patch(resnet18(num_classes=10)).layer1[0]
    ours.load_state_dict(native.state_dict())
    return native, ours


def test_block_fuses_and_matches_native():
    native, ours = _block_pair()
    x = torch.randn(2, 64, 8, 8)
    assert_close(ours(x), native(x))
    for a, b in zip(ours.buffers(), native.buffers()):
        if a.is_floating_point():
            assert_close(a, b)
        else:
            assert torch.equal(a, b)  # num_batches_tracked


def test_hooks_and_other_activations_are_honoured():
    """A hook on the batch norm sees its own output (the fused op would skip it), and a block
    whose activation is not a ReLU applies that activation: both run unfused, as native."""
    native, ours = _block_pair()
    seen = {}
    for name, block in (("native", native), ("ours", ours)):
        block.bn1.register_forward_hook(lambda m, i, o, name=name: seen.__setitem__(name, o.detach().clone()))
    x = torch.randn(2, 64, 8, 8)
    assert_close(ours(x), native(x))
    assert_close(seen["ours"], seen["native"])
    assert (seen["ours"] < 0).any()  # the batch norm's output, before any relu

    native, ours = _block_pair()
    native.relu = nn.LeakyReLU(0.2)
    ours.relu = nn.LeakyReLU(0.2)
    assert_close(ours(x), native(x))
