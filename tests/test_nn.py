"""torchext.nn modules (reached through torchext.patch on torch.nn modules) against the torch.nn
originals: outputs, input and parameter gradients, and buffers, for each configuration."""
import copy

import pytest
import torch
from torch import nn

import torchext
from helpers import assert_close


def check_module(native, x, dtype=torch.float32, steps=1):
    """Runs native and a patched deep copy on the same input for `steps` forwards; compares
    outputs, the input's and every parameter's gradient, and every buffer."""
    native = native.to(x.device, dtype)
    ours = torchext.patch(copy.deepcopy(native))
    assert type(ours).__module__ == "torchext.nn"
    x = x.to(dtype)
    for _ in range(steps):
        xa, xb = x.clone().requires_grad_(), x.clone().requires_grad_()
        a, b = ours(xa * 1.0), native(xb * 1.0)  # * 1.0: in-place modules need a non-leaf
        outs = (a, b) if isinstance(a, torch.Tensor) else (a[0], b[0])
        if not isinstance(a, torch.Tensor):
            assert torch.equal(a[1], b[1])  # max_pool2d indices
        assert_close(*outs)
        g = torch.randn_like(outs[1])
        outs[0].backward(g)
        outs[1].backward(g)
        assert_close(xa.grad, xb.grad)
    for (name, p), (_, q) in zip(ours.named_parameters(), native.named_parameters()):
        assert_close(p.grad, q.grad, scale=10)
    for (name, p), (_, q) in zip(ours.named_buffers(), native.named_buffers()):
        if q.is_floating_point():
            assert_close(p, q)
        else:
            assert torch.equal(p, q), name
    return ours, native


@pytest.mark.parametrize("kwargs", [
    dict(in_channels=3, out_channels=4, kernel_size=3),
    dict(in_channels=3, out_channels=4, kernel_size=3, stride=2, padding=1, bias=False),
    dict(in_channels=4, out_channels=6, kernel_size=(3, 2), dilation=2, groups=2),
    dict(in_channels=3, out_channels=5, kernel_size=4, padding="same"),
    dict(in_channels=3, out_channels=5, kernel_size=1, padding="valid"),
])
def test_conv2d(device, kwargs):
    check_module(nn.Conv2d(**kwargs), torch.randn(2, kwargs["in_channels"], 9, 8, device=device))


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("kwargs", [
    dict(), dict(momentum=None), dict(momentum=0.3, eps=1e-3), dict(affine=False),
    dict(track_running_stats=False),
])
def test_batch_norm2d_matches_module_logic(device, training, kwargs):
    """Three forwards: running stats and num_batches_tracked evolve as native (momentum=None is
    the cumulative average 1/num_batches_tracked); eval reads them, or uses batch statistics
    when they are not tracked."""
    native = nn.BatchNorm2d(5, **kwargs)
    if native.running_mean is not None:
        native.running_mean.uniform_(-1, 1)
        native.running_var.uniform_(0.5, 2)
    native.train(training)
    ours, native = check_module(native, torch.randn(3, 5, 4, 6, device=device), steps=3)
    if native.num_batches_tracked is not None:
        assert int(ours.num_batches_tracked) == (3 if training else 0)


def test_batch_norm2d_float64_and_input_check(device):
    check_module(nn.BatchNorm2d(4), torch.randn(2, 4, 3, 3, device=device), dtype=torch.float64)
    with pytest.raises(ValueError, match="expected 4D input"):
        torchext.patch(nn.BatchNorm2d(4))(torch.randn(2, 4, device=device))


@pytest.mark.parametrize("inplace", [False, True])
def test_relu(device, inplace):
    check_module(nn.ReLU(inplace=inplace), torch.randn(2, 3, 4, device=device))


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=3, stride=2, padding=1), dict(kernel_size=2),
    dict(kernel_size=3, ceil_mode=True), dict(kernel_size=(2, 3), stride=1, dilation=2),
    dict(kernel_size=3, stride=2, return_indices=True),
])
def test_max_pool2d(device, kwargs):
    check_module(nn.MaxPool2d(**kwargs), torch.randn(2, 3, 9, 10, device=device))


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=2), dict(kernel_size=3, stride=1, padding=1), dict(kernel_size=3, stride=2, ceil_mode=True),
    dict(kernel_size=(2, 3), padding=1, count_include_pad=False), dict(kernel_size=2, divisor_override=3),
])
def test_avg_pool2d(device, kwargs):
    check_module(nn.AvgPool2d(**kwargs), torch.randn(2, 3, 9, 10, device=device))


@pytest.mark.parametrize("size", [(1, 1), 3, (2, None), (4, 5)])
def test_adaptive_avg_pool2d(device, size):
    check_module(nn.AdaptiveAvgPool2d(size), torch.randn(2, 3, 7, 9, device=device))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", [(4, 7), (2, 3, 7), (7,)])
def test_linear(device, bias, shape):
    check_module(nn.Linear(7, 5, bias=bias), torch.randn(shape, device=device))


@pytest.mark.parametrize("dims", [(1, -1), (0, 2), (2, 3)])
def test_flatten(device, dims):
    check_module(nn.Flatten(*dims), torch.randn(2, 3, 4, 5, device=device))


def test_hooks_registered_before_patching_still_fire(device):
    model = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 4 * 4, 2))
    model = model.to(device)
    fired = []
    model[0].register_forward_pre_hook(lambda m, args: fired.append("pre"))
    model[0].register_forward_hook(lambda m, args, out: fired.append("forward"))
    model[3].register_full_backward_hook(lambda m, gin, gout: fired.append("backward"))
    model[3].weight.register_hook(lambda g: fired.append("param"))
    torchext.patch(model)
    model(torch.randn(2, 3, 6, 6, device=device)).sum().backward()
    assert fired[:2] == ["pre", "forward"] and sorted(fired[2:]) == ["backward", "param"]


def test_optimizer_created_before_patching_keeps_working(device):
    native = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2)).to(device)
    model = copy.deepcopy(native)
    opt = torchext.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    native_opt = torch.optim.SGD(native.parameters(), lr=0.1, momentum=0.9, foreach=False)
    torchext.patch(model)
    x = torch.randn(5, 4, device=device)
    for _ in range(3):
        for m, o in ((model, opt), (native, native_opt)):
            o.zero_grad()
            m(x).sum().backward()
            o.step()
    for p, q in zip(model.parameters(), native.parameters()):
        assert_close(p, q)
