"""layer_norm against native: ConvNeXt's and ViT's shapes and uses, every CPU capability, the
statistics native's native_layer_norm returns, the nn.LayerNorm mirror and the mode's route."""
import pytest
import torch
import torch.nn.functional as NF
from torch import nn
from torchvision.models import convnext

import torchext
from torchext import functional as F
from torchext.backends import cpu as cpu_backend
from helpers import assert_close


def _grads(fn, x, shape, w, b, seed=1):
    leaves = [t.detach().clone().requires_grad_() if t is not None else None for t in (x, w, b)]
    y = fn(leaves[0], shape, leaves[1], leaves[2], 1e-6)
    g = torch.randn(y.shape, generator=torch.Generator().manual_seed(seed), dtype=y.dtype).to(y.device)
    need = [t for t in leaves if t is not None]
    return (y, *torch.autograd.grad(y, need, g))


@pytest.mark.parametrize("capability", cpu_backend.supported_capabilities())
@pytest.mark.parametrize("shape,normalized", [((8, 14, 14, 96), [96]), ((2, 7, 7, 768), [768]),
                                              ((4, 197, 64), [64]), ((3, 5, 6, 7), [6, 7]), ((5, 1000), [1000]),
                                              ((6, 3), [3])])
def test_parity_float64(capability, shape, normalized):
    x = torch.randn(shape, dtype=torch.float64) * 3 + 5
    w, b = torch.randn(normalized, dtype=torch.float64), torch.randn(normalized, dtype=torch.float64)
    with cpu_backend.capability_scope(capability):
        ours = _grads(F.layer_norm, x, normalized, w, b)
    native = _grads(NF.layer_norm, x, normalized, w, b)
    for a, n in zip(ours, native):
        torch.testing.assert_close(a, n, rtol=1e-10, atol=1e-10)


def test_statistics_as_native(device):
    x = torch.randn(4, 3, 5, device=device)
    out, mean, rstd = torchext.ops.layer_norm(x, [3, 5], None, None, 1e-5)
    ref = torch.native_layer_norm(x, [3, 5], None, None, 1e-5)
    for a, n in zip((out, mean, rstd), ref):
        assert a.shape == n.shape and a.dtype == n.dtype
        assert_close(a, n)


def test_empty_rows_as_native():
    out, mean, rstd = torchext.ops.layer_norm(torch.randn(3, 0), [0], None, None, 1e-5)
    ref = torch.native_layer_norm(torch.randn(3, 0), [0], None, None, 1e-5)
    assert torch.equal(mean, ref[1]) and rstd.isnan().all() and ref[2].isnan().all()


def test_large_offset_is_accurate():
    """Values far from zero relative to their spread: the two-pass variance stays exact."""
    x = (torch.randn(16, 256) * 1e-2 + 1e3).double()  # float32 values; the sums of squares are ~1e8
    ours = F.layer_norm(x.float(), [256])
    exact = NF.layer_norm(x, [256])
    assert (ours.double() - exact).abs().max() < 1e-2  # one pass (E[x^2] - E[x]^2) would be off by ~1


def test_convnext_layernorm2d_block(device):
    """ConvNeXt's LayerNorm2d (permute to NHWC, layer_norm over C, permute back) under the mode."""
    torch.manual_seed(0)
    ln = convnext.LayerNorm2d(96, eps=1e-6).to(device)
    with torch.no_grad():
        ln.weight.normal_(), ln.bias.normal_()
    x = torch.randn(2, 96, 7, 7, device=device, requires_grad=True)
    native = ln(x)
    (gn,) = torch.autograd.grad(native.square().sum(), x)
    with torchext.enable():
        ours = ln(x)
        (go,) = torch.autograd.grad(ours.square().sum(), x)
    assert_close(ours, native)
    assert_close(go, gn, scale=10)


def test_nn_layernorm_mirror_is_patched():
    model = nn.Sequential(nn.Linear(8, 16), nn.LayerNorm(16), nn.Linear(16, 4))
    x = torch.randn(5, 8)
    native = model(x)
    torchext.patch(model)
    assert type(model[1]) is torchext.nn.LayerNorm
    assert_close(model(x), native)
