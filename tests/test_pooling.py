import pytest
import torch
import torch.nn.functional as NF
from torch.autograd import gradcheck, gradgradcheck

import torchext
from torchext import functional as F
from helpers import assert_close, compare_with_native

# (kernel_size, stride, padding, dilation, ceil_mode)
POOL_CONFIGS = [
    (3, 2, 1, 1, False),               # ResNet's maxpool
    (2, None, 0, 1, False),            # stride defaults to kernel_size
    (3, 1, 1, 1, False),               # kernel larger than stride: overlapping windows
    (5, 2, 2, 1, False),
    (3, 2, 1, 1, True),
    (2, 2, 1, 1, True),
    ((2, 3), (1, 2), (1, 0), (2, 1), True),
    (3, 3, 1, 2, False),
    (3, (2, 1), (0, 1), (1, 3), True),
    (4, 3, 2, 1, True),
]


def _indices(x, config):
    k, s, p, d, c = config
    return F.max_pool2d(x, k, s, p, d, c, return_indices=True), NF.max_pool2d(x, k, s, p, d, c,
                                                                               return_indices=True)


def _assert_pool_matches(x, config):
    """Values and indices exactly as native's, and the same input gradient."""
    (out, idx), (nout, nidx) = _indices(x, config)
    torch.testing.assert_close(out, nout, rtol=0, atol=0, equal_nan=True)
    assert idx.dtype == torch.int64
    assert torch.equal(idx, nidx)
    k, s, p, d, c = config
    a, b = x.detach().clone().requires_grad_(), x.detach().clone().requires_grad_()
    g = torch.randn_like(nout)
    (ga,) = torch.autograd.grad(F.max_pool2d(a, k, s, p, d, c), a, g)
    (gb,) = torch.autograd.grad(NF.max_pool2d(b, k, s, p, d, c), b, g)
    assert_close(ga, gb)


@pytest.mark.parametrize("batch", [1, 8])
def test_resnet18_maxpool_matches_native(device, batch):
    _assert_pool_matches(torch.randn(batch, 64, 32, 32, device=device), (3, 2, 1, 1, False))


@pytest.mark.parametrize("config", POOL_CONFIGS)
@pytest.mark.parametrize("shape", [(1, 3, 57, 61), (2, 3, 8, 9), (3, 17, 19)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_max_pool_matches_native(device, config, shape, dtype):
    _assert_pool_matches(torch.randn(shape, device=device, dtype=dtype), config)


@pytest.mark.parametrize("config", POOL_CONFIGS)
def test_max_pool_ties_resolved_as_native(device, config):
    # Few distinct values: most windows hold several maxima; the first in scan order wins.
    x = torch.randint(0, 3, (2, 3, 23, 21), device=device).float()
    _assert_pool_matches(x, config)
    _assert_pool_matches(torch.full((1, 2, 9, 10), -float("inf"), device=device), config)


@pytest.mark.parametrize("config", POOL_CONFIGS[:5])
def test_max_pool_nan_propagates_as_native(device, config):
    x = torch.randn(2, 2, 19, 20, device=device)
    x[x > 1.2] = float("nan")
    x[0, 0, :3, :3] = float("nan")
    _assert_pool_matches(x, config)


def test_max_pool_channels_last_and_non_contiguous(device):
    x = torch.randn(2, 16, 20, 18, device=device)
    _assert_pool_matches(x.contiguous(memory_format=torch.channels_last), (3, 2, 1, 1, False))
    _assert_pool_matches(x.transpose(2, 3), (3, 2, 1, 1, True))
    _assert_pool_matches(x[:, ::3, 1:, ::2], (2, 1, 1, 1, False))


def test_max_pool_window_on_padding_only(device):
    # Dilation 3 with padding 1 on a 2x2 input: the only window covers no input value. Native
    # returns -inf (with an out-of-range index); ours returns -inf with index -1 and a zero
    # gradient.
    x = torch.randn(1, 1, 2, 2, device=device, requires_grad=True)
    out, idx = F.max_pool2d(x, 2, 1, 1, 3, return_indices=True)
    assert torch.equal(out.detach(), NF.max_pool2d(x.detach(), 2, 1, 1, 3))
    assert idx.flatten().tolist() == [-1]
    out.sum().backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_max_pool_empty_batch(device):
    x = torch.randn(0, 2, 6, 5, device=device, requires_grad=True)
    out = F.max_pool2d(x, 2)
    assert out.shape == NF.max_pool2d(x, 2).shape
    out.sum().backward()
    assert x.grad.shape == x.shape


@pytest.mark.parametrize("config", POOL_CONFIGS)
def test_max_pool_gradcheck(device, config):
    k, s, p, d, c = config
    x = torch.randn(2, 2, 9, 8, device=device, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda t: F.max_pool2d(t, k, s, p, d, c), (x,))


def test_max_pool_gradcheck_unbatched(device):
    x = torch.randn(3, 7, 6, device=device, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda t: F.max_pool2d(t, 3, 2, 1), (x,))


def test_max_pool_errors(device):
    x = torch.randn(1, 2, 6, 6, device=device)
    with pytest.raises(RuntimeError, match=r"torchext.max_pool2d: expected self to be 3-D .* or 4-D"):
        F.max_pool2d(torch.randn(6, 6, device=device), 2)
    with pytest.raises(RuntimeError, match=r"torchext.max_pool2d: expected self to be 3-D .* or 4-D"):
        F.max_pool2d(torch.randn(1, 1, 1, 6, 6, device=device), 2)
    with pytest.raises(RuntimeError, match=r"expected self to be float32 or float64"):
        F.max_pool2d(x.long(), 2)
    with pytest.raises(RuntimeError, match=r"expected stride to be positive"):
        F.max_pool2d(x, 2, 0)
    with pytest.raises(RuntimeError, match=r"expected stride to be positive"):
        F.max_pool2d(x, 2, (1, -1))
    with pytest.raises(RuntimeError, match=r"expected kernel_size to be positive"):
        F.max_pool2d(x, 0)
    with pytest.raises(RuntimeError, match=r"expected dilation to be positive"):
        F.max_pool2d(x, 2, 1, 0, 0)
    with pytest.raises(RuntimeError, match=r"pad should be at most half of kernel size"):
        F.max_pool2d(x, 3, 1, 2)
    with pytest.raises(RuntimeError, match=r"expected padding to be non-negative"):
        F.max_pool2d(x, 3, 1, -1)
    with pytest.raises(RuntimeError, match=r"output size is too small"):
        F.max_pool2d(x, 7)
    with pytest.raises(RuntimeError, match=r"expected self to have non-zero channel and spatial sizes"):
        F.max_pool2d(torch.randn(1, 2, 0, 6, device=device), 2)
    with pytest.raises(RuntimeError, match=r"torchext.max_pool2d: expected kernel_size to be an int or 2 ints"):
        F.max_pool2d(x, (2, 2, 2))
    ops = torchext.ops
    out, idx = ops.max_pool2d(x, [2, 2], [2, 2], [0, 0], [1, 1], False)
    with pytest.raises(RuntimeError, match=r"torchext.max_pool2d_backward: indices out of range"):
        ops.max_pool2d_backward(out, x, idx + 100)
    with pytest.raises(RuntimeError, match=r"expected indices to be int64"):
        ops.max_pool2d_backward(out, x, idx.int())
    with pytest.raises(RuntimeError, match=r"expected grad_output and indices of the same shape"):
        ops.max_pool2d_backward(out[..., :1], x, idx)
    with pytest.raises(RuntimeError, match=r"expected grad_output to have self's leading"):
        ops.max_pool2d_backward(out.expand(2, 2, 3, 3), torch.randn(1, 2, 6, 6, device=device),
                                idx.expand(2, 2, 3, 3))


@pytest.mark.parametrize("args", [
    ((2, 3, 9, 8), [3, 3], [2, 2], [1, 1], [1, 1], False),
    ((2, 3, 9, 8), [2, 3], [1, 2], [1, 0], [2, 1], True),
    ((3, 7, 6), [2, 2], [2, 2], [0, 0], [1, 1], False),
])
def test_max_pool_opcheck(device, args):
    shape, *rest = args
    x = torch.randn(shape, device=device)
    torch.library.opcheck(torch.ops.torchext.max_pool2d.default, (x, *rest))
    out, idx = torchext.ops.max_pool2d(x, *rest)
    torch.library.opcheck(torch.ops.torchext.max_pool2d_backward.default, (torch.randn_like(out), x, idx))


# Adaptive average pooling.

ADAPTIVE_CASES = [
    ((2, 3, 5, 7), (3, 2)),     # non-divisible: overlapping ranges
    ((2, 3, 5, 7), (1, 1)),     # global average
    ((2, 3, 5, 7), (5, 7)),     # identity
    ((2, 3, 5, 7), (7, 9)),     # larger than the input
    ((2, 3, 5, 7), 2),          # int
    ((2, 3, 5, 7), (None, 3)),  # None keeps the input size
    ((3, 6, 4), (4, 1)),        # unbatched
    ((1, 2, 1, 1), (2, 3)),
]


@pytest.mark.parametrize("shape,size", ADAPTIVE_CASES)
def test_adaptive_gradcheck_and_gradgradcheck(device, shape, size):
    x = torch.randn(shape, device=device, dtype=torch.float64, requires_grad=True)
    assert gradcheck(lambda t: F.adaptive_avg_pool2d(t, size), (x,))
    assert gradgradcheck(lambda t: F.adaptive_avg_pool2d(t, size), (x,))


@pytest.mark.parametrize("shape,size", ADAPTIVE_CASES + [((1, 3, 57, 61), (4, 5)), ((1, 3, 57, 61), 1)])
def test_adaptive_matches_native(device, shape, size):
    x = torch.randn(shape, device=device, requires_grad=True)
    compare_with_native(lambda t: F.adaptive_avg_pool2d(t, size), lambda t: NF.adaptive_avg_pool2d(t, size),
                        [x])


@pytest.mark.parametrize("batch", [1, 8])
def test_resnet18_avgpool_matches_native(device, batch):
    x = torch.randn(batch, 512, 2, 2, device=device, requires_grad=True)
    compare_with_native(lambda t: F.adaptive_avg_pool2d(t, (1, 1)),
                        lambda t: NF.adaptive_avg_pool2d(t, (1, 1)), [x])


def test_adaptive_channels_last_non_contiguous_and_empty(device):
    x = torch.randn(2, 8, 9, 7, device=device)
    for t in (x.contiguous(memory_format=torch.channels_last), x.transpose(2, 3), x[:, ::2, 1:]):
        compare_with_native(lambda u: F.adaptive_avg_pool2d(u, (2, 3)),
                            lambda u: NF.adaptive_avg_pool2d(u, (2, 3)), [t.requires_grad_()])
    empty = torch.randn(0, 2, 3, 4, device=device)
    assert F.adaptive_avg_pool2d(empty, (1, 2)).shape == (0, 2, 1, 2)
    assert F.adaptive_avg_pool2d(x, (0, 2)).shape == NF.adaptive_avg_pool2d(x, (0, 2)).shape


def test_adaptive_errors(device):
    x = torch.randn(1, 2, 4, 4, device=device)
    with pytest.raises(RuntimeError, match=r"adaptive_avg_pool2d: expected self to be 3-D .* or 4-D"):
        F.adaptive_avg_pool2d(torch.randn(1, 1, 1, 4, 4, device=device), 2)
    with pytest.raises(RuntimeError, match=r"expected self to be float32 or float64"):
        F.adaptive_avg_pool2d(x.int(), 2)
    with pytest.raises(RuntimeError, match=r"expected output_size to be non-negative"):
        F.adaptive_avg_pool2d(x, (-1, 2))
    with pytest.raises(RuntimeError, match=r"expected self to have non-zero channel and spatial sizes"):
        F.adaptive_avg_pool2d(torch.randn(1, 2, 0, 4, device=device), 2)
    with pytest.raises(ValueError, match=r"Input dimension should be at least 3"):
        F.adaptive_avg_pool2d(torch.randn(4, 4, device=device), (None, 2))
    with pytest.raises(RuntimeError, match=r"pool2d_backward: expected grad_output to have self.s leading"):
        torchext.ops.adaptive_avg_pool2d_backward(torch.randn(1, 3, 2, 2, device=device), x)


@pytest.mark.parametrize("shape,size", [((2, 3, 5, 7), [3, 2]), ((2, 3, 5, 7), [1, 1]), ((3, 6, 4), [4, 1])])
def test_adaptive_opcheck(device, shape, size):
    x = torch.randn(shape, device=device)
    torch.library.opcheck(torch.ops.torchext.adaptive_avg_pool2d.default, (x, size))
    g = torch.randn(*shape[:-2], *size, device=device)
    torch.library.opcheck(torch.ops.torchext.adaptive_avg_pool2d_backward.default, (g, x))


def test_compiled_pooling_and_batch_norm_match_eager(device):
    def f(x, rm, rv, w, b):
        y = F.batch_norm(x, rm, rv, w, b, training=True)
        y = F.max_pool2d(y, 3, 2, 1)
        return F.adaptive_avg_pool2d(y, 1).sum()

    x = torch.randn(2, 3, 8, 8, device=device, requires_grad=True)
    w = torch.randn(3, device=device, requires_grad=True)
    b = torch.randn(3, device=device, requires_grad=True)
    stats = [(torch.zeros(3, device=device), torch.ones(3, device=device)) for _ in range(2)]
    results = []
    for fn, (rm, rv) in zip((torch.compile(f, fullgraph=True), f), stats):
        out = fn(x, rm, rv, w, b)
        results.append((out, *torch.autograd.grad(out, (x, w, b)), rm, rv))
    for a, e in zip(*results):
        assert_close(a, e)
