"""dropout and stochastic_depth: with the same seed, native's output, gradient and generator
state afterwards, bit for bit (CPU); identity and zero cases; the module mirrors."""
import pytest
import torch
import torch.nn.functional as NF
import torchvision
from torch import nn

import torchext
from torchext import functional as F


def _layouts(shape, dtype):
    x = torch.randn(shape, dtype=dtype)
    yield "contiguous", x
    yield "transposed", x.transpose(0, -1)
    yield "strided", torch.randn(*shape[:-1], shape[-1] * 2, dtype=dtype)[..., ::2]
    if x.dim() == 4:
        yield "channels_last", x.contiguous(memory_format=torch.channels_last)


def _seeded_run(fn, x, seed):
    torch.manual_seed(seed)
    leaf = x.detach().clone().requires_grad_()
    y = fn(leaf)
    (g,) = torch.autograd.grad(y, leaf, torch.arange(y.numel(), dtype=y.dtype).reshape(y.shape))
    return y, g, torch.get_rng_state()


def _assert_same_draw(ours_fn, native_fn, x, seed=7):
    ours, native = _seeded_run(ours_fn, x, seed), _seeded_run(native_fn, x, seed)
    for a, b in zip(ours, native):
        assert torch.equal(a, b)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("p", [0.1, 0.5, 0.3, 0.77, 0.999])
def test_dropout_equals_native_bitwise(dtype, p):
    for name, x in _layouts((4, 3, 5, 6), dtype):
        _assert_same_draw(lambda t: F.dropout(t, p), lambda t: NF.dropout(t, p), x)


def test_dropout_consecutive_calls_share_the_stream():
    x = torch.randn(1000)
    torch.manual_seed(3)
    ours = [F.dropout(x, 0.4) for _ in range(3)] + [torch.rand(5)]
    torch.manual_seed(3)
    native = [NF.dropout(x, 0.4) for _ in range(3)] + [torch.rand(5)]
    assert all(torch.equal(a, b) for a, b in zip(ours, native))


@pytest.mark.parametrize("mode", ["row", "batch"])
@pytest.mark.parametrize("p", [0.2, 0.5, 1.0])
def test_stochastic_depth_equals_native_bitwise(mode, p):
    for name, x in _layouts((16, 3, 4, 5), torch.float32):
        _assert_same_draw(lambda t: F.stochastic_depth(t, p, mode),
                          lambda t: torchvision.ops.stochastic_depth(t, p, mode), x)


def test_identity_and_zero_cases():
    x = torch.randn(4, 5)
    assert F.dropout(x, 0.0) is x and F.dropout(x, 0.5, training=False) is x
    assert F.stochastic_depth(x, 0.0, "row") is x and F.stochastic_depth(x, 0.5, "row", False) is x
    x[0, 0] = float("nan")
    state = torch.get_rng_state()
    out = F.dropout(x, 1.0)
    assert torch.equal(torch.get_rng_state(), state), "p=1 draws nothing, as native"
    torch.testing.assert_close(out, NF.dropout(x, 1.0), equal_nan=True)


def test_inplace_writes_into_input():
    x = torch.randn(6, 7)
    a, b = x.clone(), x.clone()
    torch.manual_seed(1)
    F.dropout(a, 0.5, inplace=True)
    torch.manual_seed(1)
    NF.dropout(b, 0.5, inplace=True)
    assert torch.equal(a, b)



def test_inplace_on_a_view_of_a_non_leaf():
    """nn.Dropout(inplace=True) after a flatten (EfficientNet's classifier): native's values,
    gradient and generator state, the view's base updated as native's is."""
    def run(dropout):
        torch.manual_seed(5)
        leaf = torch.randn(4, 3, 2, 2, requires_grad=True)
        base = leaf * 2
        y = dropout(base.flatten(1), 0.5, inplace=True)
        (g,) = torch.autograd.grad((y * torch.arange(12.0)).sum(), leaf)
        return y, base, g, torch.get_rng_state()

    for a, b in zip(run(F.dropout), run(NF.dropout)):
        assert torch.equal(a, b)

def test_double_backward():
    x = torch.randn(5, 4, dtype=torch.float64, requires_grad=True)

    def f(t):  # one mask on every call
        torch.manual_seed(0)
        return F.dropout(t, 0.5) * t
    assert torch.autograd.gradgradcheck(f, (x,))
    torch.manual_seed(0)
    y = F.dropout(x, 0.5)
    (g,) = torch.autograd.grad(y.sum(), x, create_graph=True)
    torch.manual_seed(0)
    expected = NF.dropout(torch.ones_like(x), 0.5)
    assert torch.equal(g, expected)


def test_module_mirrors():
    model = nn.Sequential(nn.Dropout(0.3), torchvision.ops.StochasticDepth(0.4, "row"))
    native = nn.Sequential(nn.Dropout(0.3), torchvision.ops.StochasticDepth(0.4, "row"))
    torchext.patch(model)
    assert type(model[0]) is torchext.nn.Dropout and type(model[1]) is torchext.nn.StochasticDepth
    x = torch.randn(10, 8)
    for train in (True, False):
        model.train(train), native.train(train)
        torch.manual_seed(5)
        a = model(x)
        torch.manual_seed(5)
        assert torch.equal(a, native(x))


def test_mask_rate():
    torch.manual_seed(0)
    kept = (F.dropout(torch.ones(200000), 0.3) != 0).double().mean().item()
    assert abs(kept - 0.7) < 0.005
