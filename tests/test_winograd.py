"""Winograd F(2x2,3x3) and F(4x4,3x3) convolution on CPU (conv2d forward, input and weight gradients
of 3x3, stride-1 convolutions): float64 results equal native's, float32 error against a float64 reference
within the documented multiple of native float32's, the automatic choice and its switches."""
import pytest
import torch
import torch.nn.functional as NF
from torch.autograd import gradcheck

import torchext
from torchext import functional as F

cpu = torchext.backends.cpu
WINOGRAD = ["winograd_2x2", "winograd_4x4"]

# (batch, in channels, out channels, height, width, padding): partial tiles at the bottom and
# right, one-tile images, more tiles than a GEMM panel, padding 0, 1, 2 and per dimension; and
# channels enough for the transformed filters to be held in blocks of output channels (an
# uneven last block), over several blocks of tiles.
SHAPES = [
    (1, 1, 1, 3, 3, 1),
    (2, 3, 5, 7, 9, 1),
    (1, 4, 4, 5, 5, 0),
    (3, 8, 6, 13, 11, 2),
    (2, 16, 17, 4, 6, (1, 0)),
    (1, 9, 7, 1, 1, 1),
    (2, 5, 3, 10, 3, (0, 2)),
    (5, 6, 20, 9, 10, 1),
    (3, 260, 271, 4, 5, 1),
]


def _inputs(shape, dtype=torch.float64, bias=True):
    n, c, k, h, w, _ = shape
    x = torch.randn(n, c, h, w, dtype=dtype, requires_grad=True)
    weight = torch.randn(k, c, 3, 3, dtype=dtype, requires_grad=True)
    b = torch.randn(k, dtype=dtype, requires_grad=True) if bias else None
    return x, weight, b


@pytest.mark.parametrize("algorithm", WINOGRAD)
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("shape", SHAPES)
def test_float64_matches_native(algorithm, shape, bias):
    x, w, b = _inputs(shape, bias=bias)
    padding = shape[-1]
    leaves = [t for t in (x, w, b) if t is not None]
    expected = NF.conv2d(x, w, b, padding=padding)
    grad = torch.randn_like(expected)
    expected_grads = torch.autograd.grad(expected, leaves, grad)
    with cpu.flags(conv_algorithm=algorithm):
        out = F.conv2d(x, w, b, padding=padding)
        grads = torch.autograd.grad(out, leaves, grad)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-10)
    for ours, theirs in zip(grads, expected_grads):
        torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("algorithm", WINOGRAD)
def test_gradcheck(algorithm):
    x, w, b = _inputs((2, 3, 4, 6, 5, 1))
    with cpu.flags(conv_algorithm=algorithm):
        assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, padding=1), (x, w, b))


def test_input_gradient_with_padding_over_2_takes_the_direct_path():
    # grad_in would be a convolution padded by 2 - 3 < 0: the backward must not use Winograd.
    x, w, b = _inputs((2, 3, 4, 5, 6, 3))
    expected = NF.conv2d(x, w, b, padding=3)
    grad = torch.randn_like(expected)
    with cpu.flags(conv_algorithm="winograd_4x4"):
        out = F.conv2d(x, w, b, padding=3)
        ours = torch.autograd.grad(out, (x, w, b), grad)
    torch.testing.assert_close(out, expected, rtol=1e-10, atol=1e-10)
    for a, e in zip(ours, torch.autograd.grad(expected, (x, w, b), grad)):
        torch.testing.assert_close(a, e, rtol=1e-10, atol=1e-10)


# Every 3x3 stride-1 convolution of ResNet18 at 224x224 (batch 1) and 64x64 (batch 2):
# (batch, channels, spatial size).
RESNET18_3X3 = [(1, 64, 56), (1, 128, 28), (1, 256, 14), (1, 512, 7),
                (2, 64, 16), (2, 128, 8), (2, 256, 4), (2, 512, 2)]
# Allowed float32 error (normwise, against float64) as a multiple of native float32's on the same
# inputs, for the output, the input gradient and the weight gradient: direct convolution rounds
# like native. Winograd's transforms round more (torchext.backends.cpu.allow_winograd documents the
# measured figures): F(2x2,3x3)'s output stays within 2x native's, its gradients not always
# (native's backward rounds less than its forward), F(4x4,3x3) within 16x.
ERROR_FACTOR = {"direct": (2, 2, 2), "winograd_2x2": (2, 4, 4), "winograd_4x4": (16, 16, 16)}


def _relative_error(value, reference):
    return ((value.double() - reference).norm() / reference.norm()).item()


@pytest.mark.parametrize("algorithm", list(ERROR_FACTOR))
@pytest.mark.parametrize("batch,channels,size", RESNET18_3X3)
def test_float32_error_within_bound(algorithm, batch, channels, size):
    x = torch.randn(batch, channels, size, size, dtype=torch.float64)
    w = torch.randn(channels, channels, 3, 3, dtype=torch.float64) / (3 * channels ** 0.5)
    grad = torch.randn(batch, channels, size, size, dtype=torch.float64)

    def run(conv, dtype):
        xs, ws = x.to(dtype).requires_grad_(), w.to(dtype).requires_grad_()
        out = conv(xs, ws, None, padding=1)
        return (out.detach(), *torch.autograd.grad(out, (xs, ws), grad.to(dtype)))

    reference = run(NF.conv2d, torch.float64)
    native = run(NF.conv2d, torch.float32)
    with cpu.flags(conv_algorithm=algorithm):
        ours = run(F.conv2d, torch.float32)
    names = ("output", "grad_input", "grad_weight")
    for name, factor, o, n, r in zip(names, ERROR_FACTOR[algorithm], ours, native, reference):
        err, native_err = _relative_error(o, r), _relative_error(n, r)
        assert err <= factor * native_err, (
            f"{algorithm} {name}: error {err:.3g} against float64, native's {native_err:.3g}")


def _conv(x, w, **flags):
    with cpu.flags(**flags):
        return F.conv2d(x, w, padding=1)


def test_automatic_choice():
    # Results are deterministic per algorithm, so the one that ran shows in the bits.
    x, w = torch.randn(2, 64, 16, 16), torch.randn(64, 64, 3, 3)
    f2, f4, direct = (_conv(x, w, conv_algorithm=a) for a in ("winograd_2x2", "winograd_4x4", "direct"))
    assert not torch.equal(f4, direct) and not torch.equal(f2, direct)
    assert torch.equal(_conv(x, w, conv_algorithm="auto"), f4)
    # Without Winograd, the automatic choice keeps to direct convolution, which rounds like native.
    assert torch.equal(_conv(x, w, conv_algorithm="auto", allow_winograd=False), direct)
    # Too few tiles to pay for the transforms: direct.
    x, w = torch.randn(1, 256, 2, 2), torch.randn(256, 256, 3, 3)
    assert torch.equal(_conv(x, w), _conv(x, w, conv_algorithm="direct"))


def test_forced_algorithm_only_where_it_applies():
    # Stride 2, dilation, groups and other kernel sizes keep the direct path whatever is forced.
    x = torch.randn(2, 4, 9, 9, dtype=torch.float64)
    for w, kwargs in [(torch.randn(6, 4, 3, 3, dtype=torch.float64), {"stride": 2, "padding": 1}),
                      (torch.randn(6, 4, 3, 3, dtype=torch.float64), {"dilation": 2, "padding": 2}),
                      (torch.randn(6, 2, 3, 3, dtype=torch.float64), {"groups": 2, "padding": 1}),
                      (torch.randn(6, 4, 5, 5, dtype=torch.float64), {"padding": 2})]:
        with cpu.flags(conv_algorithm="winograd_4x4"):
            ours = F.conv2d(x, w, **kwargs)
        torch.testing.assert_close(ours, NF.conv2d(x, w, **kwargs), rtol=1e-10, atol=1e-10)


def test_flags_restore_and_validate():
    assert cpu.allow_winograd is True and cpu.conv_algorithm == "auto"
    with cpu.flags(allow_winograd=False, conv_algorithm="direct"):
        assert cpu.allow_winograd is False and cpu.conv_algorithm == "direct"
        with pytest.raises(ValueError, match="conv_algorithm"):
            cpu.conv_algorithm = "fft"
    assert cpu.allow_winograd is True and cpu.conv_algorithm == "auto"
    with pytest.raises(RuntimeError):
        with cpu.flags(allow_winograd=False):
            raise RuntimeError("inside")
    assert cpu.allow_winograd is True


def test_training_matches_direct_convolution():
    """A patched ResNet18 trained with Winograd follows the same loss curve as with direct
    convolution (float32 rounding differences only; at a learning rate small enough that the
    training is not chaotic, where native and direct float32 part ways as much)."""
    from torchvision.models import resnet18

    torch.manual_seed(0)
    data, labels = torch.randn(8, 3, 32, 32), torch.randint(0, 10, (8,))
    initial = resnet18(weights=None, num_classes=10).state_dict()

    def losses(**flags):
        model = torchext.patch(resnet18(weights=None, num_classes=10))
        model.load_state_dict(initial)
        opt = torchext.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
        curve = []
        with cpu.flags(**flags):
            for _ in range(8):
                opt.zero_grad()
                loss = NF.cross_entropy(model(data), labels)
                loss.backward()
                opt.step()
                curve.append(loss.item())
        return torch.tensor(curve)

    winograd, direct = losses(conv_algorithm="auto"), losses(conv_algorithm="direct")
    assert winograd[-1] < winograd[0]
    torch.testing.assert_close(winograd, direct, rtol=5e-3, atol=0)


@pytest.mark.parametrize("capability", cpu.supported_capabilities())
@pytest.mark.parametrize("algorithm", WINOGRAD)
def test_every_cpu_capability(capability, algorithm):
    # Each capability has its own copy of the transforms (vector lanes moved by 128-bit groups on
    # AVX2/AVX-512, plain loops on the baseline): float64 equal to native, float32 close.
    for dtype, tol in ((torch.float64, 1e-10), (torch.float32, 1e-4)):
        x, w, b = _inputs((3, 8, 6, 13, 11, 1), dtype=dtype)
        expected = NF.conv2d(x, w, b, padding=1)
        grad = torch.randn_like(expected)
        expected_grads = torch.autograd.grad(expected, (x, w, b), grad)
        with cpu.capability_scope(capability), cpu.flags(conv_algorithm=algorithm):
            out = F.conv2d(x, w, b, padding=1)
            grads = torch.autograd.grad(out, (x, w, b), grad)
        torch.testing.assert_close(out, expected, rtol=tol, atol=tol)
        for ours, theirs in zip(grads, expected_grads):
            torch.testing.assert_close(ours, theirs, rtol=tol, atol=tol)
