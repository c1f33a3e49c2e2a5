"""The structural ops of torchvision's CNNs (cat, avg_pool2d, mean, div, pow with a tensor
exponent) under torchext.enable() and in a DenseNet/Inception-like block: routed to torchext,
equal to native, no native compute in forward and backward; cat's gradients are views."""
import torch
import torch.nn.functional as NF
from torch import nn

import torchext
from torchext import functional as F
from torchext.recorder import OpRecorder


def test_enable_routes_the_structural_ops():
    a, b = torch.randn(2, 3, 6, 6), torch.randn(3, 1, 1).abs() + 0.5
    recorder = OpRecorder()
    with torchext.enable(), recorder:
        got = [torch.cat([a, a], 1), torch.concat([a, a]), NF.avg_pool2d(a, 3, 1, 1), torch.mean(a, (2, 3)),
               a.mean(), a / b, a / 4, 2 / b, torch.div(a, b), b.abs() ** b, torch.pow(b, a)]
        c = a.clone()
        c /= b
        c.div_(2)
        floor = torch.div(a, b, rounding_mode="floor")  # not ours: stays native
    want = [torch.cat([a, a], 1), torch.cat([a, a]), NF.avg_pool2d(a, 3, 1, 1), torch.mean(a, (2, 3)), a.mean(),
            a / b, a / 4, 2 / b, a / b, b.abs() ** b, torch.pow(b, a)]
    for x, y in zip(got, want):
        torch.testing.assert_close(x, y)
    torch.testing.assert_close(c, a / b / 2)
    torch.testing.assert_close(floor, torch.div(a, b, rounding_mode="floor"))
    assert {"torchext::cat", "torchext::avg_pool2d", "torchext::mean", "torchext::div", "torchext::div_scalar",
            "torchext::rdiv_scalar", "torchext::pow"} <= set(recorder.torchext_ops())
    assert "aten.div.Tensor_mode" in recorder.native_compute_ops()


def test_cat_gradients_are_views_of_the_output_gradient():
    xs = [torch.randn(2, c, 4, 4, requires_grad=True) for c in (3, 5)]
    out = F.cat(xs, 1)
    grad = torch.randn_like(out)
    gs = torch.autograd.grad(out, xs, grad)
    for g, offset, size in zip(gs, (0, 3), (3, 5)):
        assert g._base is grad or g.untyped_storage().data_ptr() == grad.untyped_storage().data_ptr()
        assert torch.equal(g, grad[:, offset:offset + size])


class _Block(nn.Module):
    """Inception/DenseNet-like: parallel branches joined by cat, average pooling, an SE gate
    (mean, division, pow). No intermediate feeds two ops: the autograd engine would add their
    gradients with a native add."""

    def __init__(self):
        super().__init__()
        self.a, self.b, self.c = nn.Conv2d(4, 3, 1), nn.Conv2d(4, 5, 3, padding=1), nn.Conv2d(4, 12, 1)
        self.pool = nn.AvgPool2d(3, 1, 1, count_include_pad=False)

    def forward(self, x):
        y = torch.cat([self.a(x), self.b(x), self.pool(x)], 1)
        gate = self.c(x).mean((2, 3), keepdim=True)
        return (y / (1 + gate**2)) ** torch.full((12, 1, 1), 2.0, dtype=x.dtype)


def test_block_runs_on_torchext_only():
    torch.manual_seed(0)
    native = _Block().double()
    ours = torchext.patch(_Block().double())
    ours.load_state_dict(native.state_dict())
    x = torch.randn(2, 4, 7, 7, dtype=torch.float64)
    recorder = OpRecorder()
    with torchext.enable(), recorder:
        out = ours(x)
        out.sum().backward()
    assert recorder.native_compute_ops([p.grad for p in ours.parameters()]) == []
    ref = native(x)
    ref.sum().backward()
    torch.testing.assert_close(out, ref)
    for p, q in zip(ours.parameters(), native.parameters()):
        torch.testing.assert_close(p.grad, q.grad)
