import pytest
import torch
import torch.nn.functional as NF
from torch import nn
from torch.autograd import gradcheck

import torchext
from torchext import functional as F
from helpers import assert_close

# Every BatchNorm2d input of ResNet18 on a 64x64 image: (channels, height = width).
RESNET18_BN = [(64, 32), (64, 16), (128, 8), (256, 4), (512, 2)]


def _stats(c, device, dtype=torch.float32):
    return (torch.randn(c, device=device, dtype=dtype),
            torch.rand(c, device=device, dtype=dtype) + 0.5)


def _run(fn, x, running, weight, bias, training, momentum=0.1, eps=1e-5):
    """fn on independent leaf copies; returns output, grads of (x, weight, bias) for a fixed
    upstream gradient, and the running stats after the call."""
    g = torch.Generator(device=x.device).manual_seed(1)
    leaf = lambda t: None if t is None else t.detach().clone().requires_grad_(True)
    xs, ws, bs = leaf(x), leaf(weight), leaf(bias)
    rm, rv = (None, None) if running is None else (running[0].clone(), running[1].clone())
    y = fn(xs, rm, rv, ws, bs, training, momentum, eps)
    dy = torch.randn(y.shape, generator=g, device=y.device, dtype=y.dtype)
    wanted = [t for t in (xs, ws, bs) if t is not None]
    got = iter(torch.autograd.grad(y, wanted, dy))
    grads = [None if t is None else next(got) for t in (xs, ws, bs)]
    return y, grads, (rm, rv)


def _compare(x, running, weight, bias, training, momentum=0.1, eps=1e-5, scale=10.0):
    ours = _run(F.batch_norm, x, running, weight, bias, training, momentum, eps)
    native = _run(NF.batch_norm, x, running, weight, bias, training, momentum, eps)
    assert_close(ours[0], native[0])
    for a, b in zip(ours[1], native[1]):
        assert (a is None) == (b is None)
        if a is not None:
            assert_close(a, b, scale=scale)  # weight/bias grads are sums over N*H*W values
    for a, b in zip(ours[2], native[2]):
        if b is not None:
            assert_close(a, b)
    return ours


@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("channels,size", RESNET18_BN)
@pytest.mark.parametrize("training", [True, False])
def test_resnet18_shapes_match_native(device, batch, channels, size, training):
    x = torch.randn(batch, channels, size, size, device=device) * 2 + 0.5
    w, b = torch.randn(channels, device=device), torch.randn(channels, device=device)
    _compare(x, _stats(channels, device), w, b, training)


@pytest.mark.parametrize("channels,size", RESNET18_BN)
def test_running_stats_after_several_forwards_match_native(device, channels, size):
    ours, native = _stats(channels, device), _stats(channels, device)
    native = (ours[0].clone(), ours[1].clone())
    w, b = torch.randn(channels, device=device), torch.randn(channels, device=device)
    for step in range(4):
        x = torch.randn(8, channels, size, size, device=device) * (step + 1) + step
        F.batch_norm(x, *ours, w, b, training=True, momentum=0.1)
        NF.batch_norm(x, *native, w, b, training=True, momentum=0.1)
    assert_close(ours[0], native[0])
    assert_close(ours[1], native[1])


def test_running_stats_update_exactly_once(device):
    x = torch.randn(6, 3, 4, 5, device=device, requires_grad=True)
    rm, rv = torch.zeros(3, device=device), torch.ones(3, device=device)
    y = F.batch_norm(x, rm, rv, training=True, momentum=0.5)
    y.sum().backward()
    flat = x.detach().transpose(0, 1).reshape(3, -1).double()
    assert_close(rm.double(), 0.5 * flat.mean(1), torch.float32)
    # The running variance takes the unbiased estimate n / (n - 1) * var.
    assert_close(rv.double(), 0.5 + 0.5 * flat.var(1, unbiased=True), torch.float32)


@pytest.mark.parametrize("shape", [
    (1, 3, 57, 61),      # odd spatial sizes, batch 1
    (7, 5),              # 2-D (BatchNorm1d on features)
    (3, 4, 9),           # 3-D (BatchNorm1d on sequences)
    (2, 3, 2, 3, 4),     # 5-D
    (2, 3, 1, 1),        # one value per plane
    (64, 2, 33, 33),     # few channels, large batch: a channel's reduction spans many units
    (1, 1, 300, 300),    # one huge plane, split into segments
    (1000, 3),           # many rows
    (5, 40, 3, 5),       # small planes walked as rows, several tiles of channels
])
@pytest.mark.parametrize("training", [True, False])
def test_odd_shapes_match_native(device, shape, training):
    c = shape[1]
    x = torch.randn(shape, device=device) * 3 - 1
    _compare(x, _stats(c, device), torch.randn(c, device=device), torch.randn(c, device=device),
             training, scale=50.0)


def test_batch1_eval(device):
    x = torch.randn(1, 64, 8, 8, device=device)
    _compare(x, _stats(64, device), torch.randn(64, device=device), torch.randn(64, device=device), False)


@pytest.mark.parametrize("training", [True, False])
def test_channels_last(device, training):
    x = torch.randn(4, 24, 7, 9, device=device).contiguous(memory_format=torch.channels_last)
    ours = _compare(x, _stats(24, device), torch.randn(24, device=device), torch.randn(24, device=device),
                    training)
    assert ours[0].is_contiguous(memory_format=torch.channels_last)


def test_channels_last_many_rows(device):
    # 16*40*40 rows of 3 channels: many row blocks merged per channel.
    x = torch.randn(16, 3, 40, 40, device=device).contiguous(memory_format=torch.channels_last) + 5
    _compare(x, _stats(3, device), torch.randn(3, device=device), torch.randn(3, device=device), True,
             scale=100.0)


@pytest.mark.parametrize("training", [True, False])
def test_non_contiguous(device, training):
    x = torch.randn(4, 12, 6, 10, device=device)[:, ::2, :, 1:8]
    assert not x.is_contiguous()
    _compare(x, _stats(6, device), torch.randn(6, device=device), torch.randn(6, device=device), training)
    # Strided running statistics and parameters are read and updated in place.
    stats = torch.randn(6, 2, device=device).abs() + 0.5
    w = torch.randn(12, device=device)[::2]
    _compare(x, (stats[:, 0], stats[:, 1]), w, None, training)


@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("training", [True, False])
def test_without_affine_or_running_stats(device, affine, training):
    x = torch.randn(4, 5, 3, 3, device=device)
    w, b = (torch.randn(5, device=device), torch.randn(5, device=device)) if affine else (None, None)
    _compare(x, _stats(5, device), w, b, training)
    if training:
        _compare(x, None, w, b, training)


def test_numerically_stable_for_large_mean(device):
    # float32 values around 1e4 with unit spread: a one-pass E[x^2] - E[x]^2 in float32 would
    # lose the variance entirely. The statistics must match float64's closely; the output can
    # only be as close as float32 resolves 1e4 (ulp 1e-3).
    x = torch.randn(8, 4, 16, 16, device=device) + 1e4
    _, mean, invstd = torchext.ops.batch_norm(x, None, None, None, None, True, 0.1, 1e-5)
    x64 = x.double().transpose(0, 1).reshape(4, -1)
    torch.testing.assert_close(mean.double(), x64.mean(1), rtol=1e-7, atol=0)
    expected_invstd = (x64.var(1, unbiased=False) + 1e-5).rsqrt()
    torch.testing.assert_close(invstd.double(), expected_invstd, rtol=1e-5, atol=0)
    y = F.batch_norm(x, None, None, training=True)
    torch.testing.assert_close(y.double(), NF.batch_norm(x.double(), None, None, training=True),
                               rtol=0, atol=2e-3)


def test_empty_batch(device):
    x = torch.randn(0, 3, 4, 4, device=device)
    running = _stats(3, device)
    y, grads, after = _compare(x, running, torch.randn(3, device=device), torch.randn(3, device=device), True)
    assert y.shape == x.shape
    assert_close(after[0], running[0])  # nothing to learn from: running stats unchanged
    assert_close(grads[1], torch.zeros(3, device=device))


@pytest.mark.parametrize("shape", [(5, 3), (3, 2, 4), (2, 3, 3, 4)])
@pytest.mark.parametrize("training,with_running", [(True, True), (True, False), (False, True)])
@pytest.mark.parametrize("affine", [True, False])
def test_gradcheck(device, shape, training, affine, with_running):
    c = shape[1]
    opts = dict(device=device, dtype=torch.float64)
    x = torch.randn(shape, **opts, requires_grad=True)
    w = torch.randn(c, **opts, requires_grad=True) if affine else None
    b = torch.randn(c, **opts, requires_grad=True) if affine else None
    rm, rv = _stats(c, device, torch.float64) if with_running else (None, None)
    fn = lambda x, w, b: F.batch_norm(x, rm, rv, w, b, training, 0.1, 1e-5)
    assert gradcheck(fn, (x, w, b))


def test_gradcheck_channels_last(device):
    opts = dict(device=device, dtype=torch.float64)
    x = torch.randn(2, 3, 3, 4, **opts).contiguous(memory_format=torch.channels_last).requires_grad_()
    w = torch.randn(3, **opts, requires_grad=True)
    b = torch.randn(3, **opts, requires_grad=True)
    assert gradcheck(lambda x, w, b: F.batch_norm(x, None, None, w, b, True), (x, w, b))


def test_only_some_inputs_need_grad(device):
    x = torch.randn(4, 3, 5, 5, device=device)
    w = torch.randn(3, device=device, requires_grad=True)
    y = F.batch_norm(x, None, None, w, torch.randn(3, device=device), training=True)
    (gw,) = torch.autograd.grad(y.sum(), [w])
    expected_w = w.detach().clone().requires_grad_()
    (ew,) = torch.autograd.grad(NF.batch_norm(x, None, None, expected_w, None, True).sum(), [expected_w])
    assert_close(gw, ew, scale=10.0)


def test_errors(device):
    ops = torchext.ops
    x = torch.randn(4, 3, 5, device=device)
    ones, zeros = torch.ones(3, device=device), torch.zeros(3, device=device)
    with pytest.raises(RuntimeError, match=r"torchext.batch_norm: expected input to have at least 2 dims"):
        ops.batch_norm(torch.randn(5, device=device), None, None, None, None, True, 0.1, 1e-5)
    with pytest.raises(RuntimeError, match=r"torchext.batch_norm: expected input to be float32 or float64"):
        ops.batch_norm(torch.ones(4, 3, dtype=torch.int64, device=device), None, None, None, None, True, 0.1,
                       1e-5)
    with pytest.raises(RuntimeError, match=r"expected weight to be 1-D with 3 elements"):
        ops.batch_norm(x, torch.ones(4, device=device), None, None, None, True, 0.1, 1e-5)
    with pytest.raises(RuntimeError, match=r"expected running_var to be 1-D with 3 elements"):
        ops.batch_norm(x, None, None, zeros, torch.ones(2, device=device), True, 0.1, 1e-5)
    with pytest.raises(RuntimeError, match=r"expected input and bias to have the same dtype"):
        ops.batch_norm(x, None, ones.double(), None, None, True, 0.1, 1e-5)
    with pytest.raises(RuntimeError, match=r"running_mean and running_var to be both given or both None"):
        ops.batch_norm(x, None, None, zeros, None, True, 0.1, 1e-5)
    with pytest.raises(RuntimeError, match=r"must be given in evaluation mode"):
        F.batch_norm(x, None, None, training=False)
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training"):
        F.batch_norm(torch.randn(1, 3, device=device), zeros.clone(), ones.clone(), training=True)
    with pytest.raises(ValueError, match=r"Expected more than 1 value per channel when training"):
        F.batch_norm(torch.randn(1, 3, 1, 1, device=device), None, None, training=True)
    with pytest.raises(RuntimeError, match=r"torchext.batch_norm_backward: expected grad_output of shape"):
        ops.batch_norm_backward(torch.randn(4, 3, device=device), x, None, None, None, zeros, ones, True,
                                1e-5, [True, True, True])
    with pytest.raises(RuntimeError, match=r"batch_norm_backward: expected save_mean to be 1-D with 3"):
        ops.batch_norm_backward(x, x, None, None, None, torch.zeros(0, device=device), ones, True, 1e-5,
                                [True, True, True])


def _bn_args(device, training, affine=True):
    x = torch.randn(3, 4, 5, 2, device=device)
    w, b = (torch.randn(4, device=device), torch.randn(4, device=device)) if affine else (None, None)
    rm, rv = _stats(4, device)
    return x, w, b, rm.clone(), rv.clone()


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
def test_opcheck_forward(device, training, affine):
    x, w, b, rm, rv = _bn_args(device, training, affine)
    torch.library.opcheck(torch.ops.torchext.batch_norm.default, (x, w, b, rm, rv, training, 0.1, 1e-5))
    cl = x.contiguous(memory_format=torch.channels_last)
    torch.library.opcheck(torch.ops.torchext.batch_norm.default, (cl, w, b, None, None, True, 0.1, 1e-5))


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("mask", [[True, True, True], [True, False, False], [False, True, True]])
def test_opcheck_backward(device, training, mask):
    x, w, b, rm, rv = _bn_args(device, training)
    _, save_mean, save_invstd = torchext.ops.batch_norm(x, w, b, rm.clone(), rv.clone(), training, 0.1, 1e-5)
    dy = torch.randn_like(x)
    torch.library.opcheck(torch.ops.torchext.batch_norm_backward.default,
                          (dy, x, w, rm, rv, save_mean, save_invstd, training, 1e-5, mask))


@pytest.mark.parametrize("shape", [(64, 512), (16, 8, 30), (5, 3)])
def test_batchnorm1d_mirror(shape):
    """torchext.nn.BatchNorm1d on (N, C) and (N, C, L): output, running stats and gradients as
    nn.BatchNorm1d, in training and eval."""
    ours, native = nn.BatchNorm1d(shape[1]), nn.BatchNorm1d(shape[1])
    with torch.no_grad():
        native.weight.normal_(), native.bias.normal_()
    ours.load_state_dict(native.state_dict())
    torchext.patch(ours)
    assert type(ours) is torchext.nn.BatchNorm1d
    x = torch.randn(shape) * 2 + 1
    for train in (True, False):
        ours.train(train), native.train(train)
        a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
        ya, yb = ours(a), native(b)
        assert_close(ya, yb)
        ga = torch.autograd.grad(ya.square().sum(), [a, ours.weight])
        gb = torch.autograd.grad(yb.square().sum(), [b, native.weight])
        for u, v in zip(ga, gb):
            assert_close(u, v, scale=10)
        assert_close(ours.running_mean, native.running_mean)
        assert_close(ours.running_var, native.running_var)
