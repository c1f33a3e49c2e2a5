"""Double (and third) backward through torchext's ops: second derivatives equal native's for
every argument, a gradient penalty through a patched ResNet18 and a Hessian-vector product through
a patched CNN equal native's, and the double backward computes on torchext ops only. (gradgradcheck
of every op-table entry is in test_optable.)"""
import copy

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as NF
from torch.autograd import gradgradcheck

import torchext
from torchext import functional as F
from torchext.recorder import OpRecorder, engine_gradient_sums
from resnet_helpers import assert_rel_close, resnet18

DT = torch.float64


def _leaves(*shapes, device="cpu", low=-1.0, high=1.0):
    g = torch.Generator().manual_seed(0)
    return [(torch.rand(s, generator=g, dtype=DT) * (high - low) + low).to(device).requires_grad_()
            for s in shapes]


def _second_derivatives(fn, leaves, seed=1):
    """The first gradients (create_graph) and the gradients of a random combination of them."""
    g = torch.Generator().manual_seed(seed)
    out = fn(*leaves)
    w = torch.rand(out.shape, generator=g, dtype=DT).to(out.device)
    firsts = torch.autograd.grad(out, leaves, w, create_graph=True)
    vs = [torch.rand(f.shape, generator=g, dtype=DT).to(f.device) for f in firsts]
    # A first gradient constant in every leaf (a bias's) has no graph: it adds nothing.
    pairs = [(f, v) for f, v in zip(firsts, vs) if f.requires_grad]
    seconds = torch.autograd.grad([f for f, _ in pairs], leaves, [v for _, v in pairs], allow_unused=True)
    return firsts, [torch.zeros_like(x) if s is None else s for x, s in zip(leaves, seconds)]


def _assert_second_derivatives_native(ours, native, leaves):
    twins = [x.detach().clone().requires_grad_() for x in leaves]
    for a, b in zip(*(_second_derivatives(f, xs) for f, xs in ((ours, leaves), (native, twins)))):
        for i, (x, y) in enumerate(zip(a, b)):
            torch.testing.assert_close(x, y, rtol=1e-10, atol=1e-12, msg=f"argument {i}")


CASES = {
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b, stride=2, padding=1, groups=2),
               lambda x, w, b: NF.conv2d(x, w, b, stride=2, padding=1, groups=2), [(2, 4, 7, 6), (6, 2, 3, 3), (6,)]),
    "conv2d depthwise": (lambda x, w: F.conv2d(x, w, padding=1, groups=3),
                         lambda x, w: NF.conv2d(x, w, padding=1, groups=3), [(2, 3, 6, 6), (3, 1, 3, 3)]),
    "linear": (F.linear, NF.linear, [(2, 3, 5), (4, 5), (4,)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 3, 2, 1), lambda x: NF.max_pool2d(x, 3, 2, 1), [(2, 3, 7, 6)]),
    "batch_norm training": (lambda x, w, b: F.batch_norm(x, None, None, w, b, True),
                            lambda x, w, b: NF.batch_norm(x, None, None, w, b, True), [(3, 4, 3, 2), (4,), (4,)]),
    "batch_norm eval": (lambda x, w, b: F.batch_norm(x, torch.full((4,), 0.2, dtype=DT), torch.full((4,), 1.5, dtype=DT), w, b),
                        lambda x, w, b: NF.batch_norm(x, torch.full((4,), 0.2, dtype=DT), torch.full((4,), 1.5, dtype=DT), w, b),
                        [(3, 4, 5), (4,), (4,)]),
    "batch_norm no affine": (lambda x: F.batch_norm(x, None, None, training=True),
                             lambda x: NF.batch_norm(x, None, None, training=True), [(5, 3)]),
    "batch_norm_relu residual": (lambda x, r, w, b: F.batch_norm_relu(x, None, None, w, b, True, residual=r),
                                 lambda x, r, w, b: NF.relu(NF.batch_norm(x, None, None, w, b, True) + r),
                                 [(3, 4, 3, 2), (3, 4, 3, 2), (4,), (4,)]),
    "layer_norm": (lambda x, w, b: F.layer_norm(x, [3, 4], w, b), lambda x, w, b: NF.layer_norm(x, [3, 4], w, b),
                   [(2, 5, 3, 4), (3, 4), (3, 4)]),
    "pow tensor exponent": (lambda a, b: F.pow(F.add(a, 1.5), b), lambda a, b: torch.pow(a + 1.5, b),
                            [(3, 1, 4), (2, 4)]),
    "layer_norm 1-D": (lambda x, w: F.layer_norm(x, [6], w), lambda x, w: NF.layer_norm(x, [6], w), [(6,), (6,)]),
}


@pytest.mark.parametrize("name", list(CASES))
def test_second_derivatives_equal_native(name):
    """Every second derivative (w.r.t. every argument, of a random combination of the first
    gradients) equals native's in float64."""
    ours, native, shapes = CASES[name]
    _assert_second_derivatives_native(ours, native, _leaves(*shapes))


@pytest.mark.parametrize("name", ["conv2d", "linear", "max_pool2d", "batch_norm training", "layer_norm",
                                  "pow tensor exponent"])
def test_third_derivatives(name):
    """The double backward is made of differentiable ops again: gradgradcheck of the first
    gradients (a third derivative of the op)."""
    ours, _, shapes = CASES[name]
    leaves = _leaves(*shapes)
    g = torch.Generator().manual_seed(2)
    out = ours(*leaves)
    w = torch.rand(out.shape, generator=g, dtype=DT)

    def first_gradients(*xs):
        return torch.autograd.grad(ours(*xs), xs, w, create_graph=True)
    assert gradgradcheck(first_gradients, tuple(leaves))


def test_max_pool2d_double_backward_op(device):
    """The gather: values at the argmax (0 for a window on padding only), opcheck, and errors."""
    x = torch.randn(2, 3, 6, 5, device=device)
    out, idx = F.max_pool2d(x, 2, return_indices=True)
    gg = torch.randn_like(x)
    got = torchext.ops.max_pool2d_double_backward(gg, idx)
    assert torch.equal(got, gg.flatten(2).gather(2, idx.flatten(2)).view_as(idx))
    torch.library.opcheck(torch.ops.torchext.max_pool2d_double_backward.default, (gg, idx))
    torch.library.opcheck(torch.ops.torchext.max_pool2d_double_backward.default, (gg[0], idx[0]))
    padding_only = torch.full((1, 1, 1, 1), -1, dtype=torch.long, device=device)
    assert torchext.ops.max_pool2d_double_backward(gg[:1, :1], padding_only).item() == 0
    with pytest.raises(RuntimeError, match="max_pool2d_double_backward: expected indices to be int64"):
        torchext.ops.max_pool2d_double_backward(gg, idx.int())
    with pytest.raises(RuntimeError, match="max_pool2d_double_backward: expected indices to have grad_grad_input's"):
        torchext.ops.max_pool2d_double_backward(gg, idx[:1])
    with pytest.raises(RuntimeError, match="max_pool2d_double_backward: expected grad_grad_input to be 3-D"):
        torchext.ops.max_pool2d_double_backward(gg[0, 0], idx[0, 0])
    if device == "cpu":  # CUDA reads an out-of-range index as nothing, as its backward's scatter
        with pytest.raises(RuntimeError, match=r"max_pool2d_double_backward: indices out of range"):
            torchext.ops.max_pool2d_double_backward(gg, idx + 30)


# ------------------------------------------------------------------------------------ models

def _penalty_step(model, x):
    """A gradient penalty: loss + |d loss / d x|^2, backward to every parameter."""
    x = x.detach().clone().requires_grad_()
    out = model(x)
    loss = (out * out).sum() / out.numel()
    (gx,) = torch.autograd.grad(loss, x, create_graph=True)
    total = loss + (gx * gx).sum()
    total.backward()
    return out, total


def _twins(dtype=DT):
    native = resnet18(0, dtype)
    return native, torchext.patch(copy.deepcopy(native))


@pytest.mark.parametrize("train", [True, False], ids=["train", "eval"])
def test_gradient_penalty_resnet18(train):
    """A gradient penalty through a patched ResNet18 in float64: outputs, penalised loss and every
    parameter's gradient within 1e-10 of native's."""
    native, ours = _twins()
    native.train(train)
    ours.train(train)
    # 4 x 64 x 64: the last batch norms see 16 values per channel (2 x 32 x 32 leaves them 2,
    # where the input gradient cancels to noise around 1e-10)
    x = torch.rand(4, 3, 64, 64, generator=torch.Generator().manual_seed(3), dtype=DT)
    (out_n, total_n), (out_o, total_o) = (_penalty_step(m, x) for m in (native, ours))
    assert_rel_close(out_o, out_n, 1e-10, "output")
    assert_rel_close(total_o, total_n, 1e-10, "penalised loss")
    for (name, p), q in zip(ours.named_parameters(), native.parameters()):
        assert_rel_close(p.grad, q.grad, 1e-10, name)


def _small_cnn():
    torch.manual_seed(4)
    # No bias before the batch norm: its gradient would be rounding noise around 0.
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(8, 8, 3, stride=2, groups=2), nn.ReLU(), nn.Flatten(),
                         nn.Linear(8 * 3 * 3, 10), nn.LayerNorm(10), nn.Linear(10, 4)).to(DT)


def _hvp(model, x):
    params = list(model.parameters())
    loss = model(x).pow(2).sum()
    grads = torch.autograd.grad(loss, params, create_graph=True)
    g = torch.Generator().manual_seed(5)
    vs = [torch.rand(p.shape, generator=g, dtype=DT) for p in params]
    return torch.autograd.grad(grads, params, vs)


def test_hessian_vector_product_small_cnn():
    native = _small_cnn()
    ours = torchext.patch(copy.deepcopy(native))
    x = torch.rand(3, 3, 14, 14, generator=torch.Generator().manual_seed(6), dtype=DT)
    for (name, _), a, b in zip(ours.named_parameters(), _hvp(ours, x), _hvp(native, x)):
        assert_rel_close(a, b, 1e-10, name)


def test_double_backward_computes_on_torchext():
    """The penalty's second backward (through the double backward of conv2d, batch_norm_relu,
    max_pool2d, linear) runs no native compute op but the autograd engine's own sums (at most one
    per edge merging into a node: fewer where a Function's gradient is None)."""
    _, ours = _twins(torch.float32)
    x = torch.rand(2, 3, 32, 32, requires_grad=True)
    out = ours(x)
    loss = F.sum(F.mul(out, out))
    (gx,) = torch.autograd.grad(loss, x, create_graph=True)
    total = F.add(loss, F.sum(F.mul(gx, gx)))
    sums = engine_gradient_sums(total)
    recorder = OpRecorder()
    with recorder:
        total.backward()
    grads = [p.grad for p in ours.parameters()]
    left = recorder.native_compute_counts(grads)
    engine = left.pop("aten.add.Tensor", 0) + left.pop("aten.add_.Tensor", 0)
    assert dict(left) == {} and engine <= sums
    assert "torchext::max_pool2d_double_backward" in recorder.torchext_ops()
