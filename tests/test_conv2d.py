import pytest
import torch
import torch.nn.functional as NF
from torch.autograd import gradcheck

import torchext
from torchext import functional as F
from helpers import compare_multilinear_with_native, compare_with_native
from torchext.recorder import OpRecorder


def conv_inputs(device, x_shape, w_shape, bias, dtype=torch.float64, requires_grad=(True, True, True)):
    x = torch.randn(x_shape, dtype=dtype, device=device, requires_grad=requires_grad[0])
    w = torch.randn(w_shape, dtype=dtype, device=device, requires_grad=requires_grad[1])
    b = torch.randn(w_shape[0], dtype=dtype, device=device, requires_grad=requires_grad[2]) if bias else None
    return x, w, b


# (input shape, weight shape, keyword arguments): every kernel size, stride, padding form,
# dilation and grouping, small enough for float64 gradcheck.
GRADCHECK_CASES = [
    ((2, 3, 6, 7), (4, 3, 1, 1), {}),
    ((2, 3, 6, 7), (4, 3, 1, 1), {"stride": 2}),
    ((2, 3, 6, 7), (4, 3, 1, 1), {"padding": 1}),
    ((2, 3, 6, 7), (4, 3, 2, 2), {}),
    ((2, 3, 6, 7), (4, 3, 2, 3), {"padding": "same"}),
    ((2, 3, 6, 7), (4, 3, 2, 2), {"padding": "same", "dilation": (1, 2)}),
    ((2, 3, 6, 7), (4, 3, 3, 3), {"padding": 1}),
    ((2, 3, 6, 7), (4, 3, 3, 3), {"stride": 2, "padding": 1}),
    ((2, 3, 7, 6), (4, 3, 3, 3), {"stride": (1, 2), "padding": (2, 0)}),
    ((2, 3, 6, 7), (4, 3, 3, 3), {"padding": "valid"}),
    ((2, 3, 8, 9), (4, 3, 3, 3), {"dilation": 2, "padding": "same"}),
    ((2, 3, 8, 9), (2, 3, 3, 2), {"dilation": (2, 3), "stride": (2, 1), "padding": (1, 2)}),
    ((1, 2, 9, 8), (3, 2, 5, 5), {"padding": 2, "stride": 2}),
    ((1, 2, 9, 8), (3, 2, 5, 4), {"padding": "same"}),
    ((1, 2, 9, 9), (2, 2, 7, 7), {"padding": 3, "stride": 3}),
    ((2, 4, 6, 5), (6, 2, 3, 3), {"groups": 2, "padding": 1}),
    ((2, 4, 6, 5), (4, 1, 3, 3), {"groups": 4, "padding": 1}),  # depthwise
    ((2, 4, 6, 5), (8, 1, 3, 3), {"groups": 4, "stride": 2}),  # depthwise, channel multiplier 2
    ((2, 6, 5, 5), (3, 2, 1, 1), {"groups": 3}),
    ((1, 2, 5, 12), (3, 2, 3, 3), {"padding": 1}),  # output rows of 8+ pixels: the row-copy path
    ((1, 2, 6, 19), (2, 2, 3, 2), {"stride": 2, "padding": (2, 1), "dilation": (1, 2)}),
    ((3, 5, 6), (4, 3, 3, 3), {"padding": 1}),  # unbatched
    ((3, 5, 6), (4, 3, 2, 2), {"padding": "same"}),  # unbatched, even kernel
]


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("x_shape,w_shape,kwargs", GRADCHECK_CASES)
def test_gradcheck(device, x_shape, w_shape, kwargs, bias):
    x, w, b = conv_inputs(device, x_shape, w_shape, bias)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, **kwargs), (x, w, b), fast_mode=True)


@pytest.mark.parametrize("x_shape,w_shape,kwargs", [
    ((1, 2, 5, 5), (3, 2, 3, 3), {"stride": 2, "padding": 1}),
    ((2, 4, 4, 5), (2, 2, 2, 3), {"padding": "same", "dilation": (2, 1), "groups": 2}),
    ((2, 3, 3), (2, 2, 1, 1), {}),
])
def test_gradcheck_full_jacobian(device, x_shape, w_shape, kwargs):
    x, w, b = conv_inputs(device, x_shape, w_shape, True)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, **kwargs), (x, w, b))


@pytest.mark.parametrize("requires_grad", [(True, False, False), (False, True, False),
                                           (False, False, True), (True, False, True),
                                           (False, True, True)])
@pytest.mark.parametrize("x_shape,w_shape,kwargs", [
    ((2, 3, 6, 7), (4, 3, 3, 3), {"stride": 2, "padding": 1}),
    ((2, 3, 6, 7), (4, 3, 1, 1), {}),
])
def test_gradcheck_some_inputs(device, x_shape, w_shape, kwargs, requires_grad):
    x, w, b = conv_inputs(device, x_shape, w_shape, True, requires_grad=requires_grad)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, **kwargs), (x, w, b), fast_mode=True)


def native(x, w, b, kwargs):
    return NF.conv2d(x, w, b, **kwargs)


# Every distinct conv of ResNet18 on a 64x64 input: (input shape after batch, weight shape, kwargs).
RESNET18_CONVS = [
    ((3, 64, 64), (64, 3, 7, 7), {"stride": 2, "padding": 3}),  # conv1
    ((64, 16, 16), (64, 64, 3, 3), {"padding": 1}),  # layer1
    ((64, 16, 16), (128, 64, 3, 3), {"stride": 2, "padding": 1}),  # layer2.0.conv1
    ((64, 16, 16), (128, 64, 1, 1), {"stride": 2}),  # layer2.0.downsample
    ((128, 8, 8), (128, 128, 3, 3), {"padding": 1}),  # layer2
    ((128, 8, 8), (256, 128, 3, 3), {"stride": 2, "padding": 1}),  # layer3.0.conv1
    ((128, 8, 8), (256, 128, 1, 1), {"stride": 2}),  # layer3.0.downsample
    ((256, 4, 4), (256, 256, 3, 3), {"padding": 1}),  # layer3
    ((256, 4, 4), (512, 256, 3, 3), {"stride": 2, "padding": 1}),  # layer4.0.conv1
    ((256, 4, 4), (512, 256, 1, 1), {"stride": 2}),  # layer4.0.downsample
    ((512, 2, 2), (512, 512, 3, 3), {"padding": 1}),  # layer4
]


def assert_float32_parity(x, w, b, kwargs, factor=4):
    """Output and every gradient of ours in float32 against native in float32 and float64. Long
    float32 sums round differently in a different order, so ours must be within a small multiple
    (factor) of native's own float32 error from the float64 result (plus a hair of its magnitude)."""
    inputs = [t for t in (x, w, b) if t is not None]
    g = torch.randn(NF.conv2d(x, w, b, **kwargs).shape, dtype=torch.float64, device=x.device)

    def run(fn, dtype):
        leaves = [t.detach().to(dtype).requires_grad_() for t in inputs]
        out = fn(*leaves, **kwargs)
        return [out.detach(), *torch.autograd.grad(out, leaves, g.to(dtype))]

    ours = run(F.conv2d, torch.float32)
    native = run(NF.conv2d, torch.float32)
    reference = run(NF.conv2d, torch.float64)
    for name, a, n, r in zip(["output", "grad_input", "grad_weight", "grad_bias"], ours, native, reference):
        err = (a.double() - r).abs().max().item()
        bound = factor * (n.double() - r).abs().max().item() + 1e-6 * r.abs().max().item()
        assert err <= bound, f"{name}: error {err:.3g} vs float64, allowed {bound:.3g}"


# With Winograd allowed (the default), the 3x3 stride-1 layers may run as F(4x4,3x3), whose
# documented error bound is 16x native's (test_winograd.py); without, they keep the 4x bound.
@pytest.mark.parametrize("allow_winograd", [False, True])
@pytest.mark.parametrize("batch", [1, 8])
@pytest.mark.parametrize("x_shape,w_shape,kwargs", RESNET18_CONVS)
def test_resnet18_parity(device, batch, x_shape, w_shape, kwargs, allow_winograd):
    x, w, _ = conv_inputs(device, (batch, *x_shape), w_shape, False, dtype=torch.float32)
    with torchext.backends.cpu.flags(allow_winograd=allow_winograd):
        assert_float32_parity(x, w, None, kwargs, factor=16 if allow_winograd else 4)


def test_resnet18_parity_with_bias(device):
    x, w, b = conv_inputs(device, (8, 256, 4, 4), (256, 256, 3, 3), True, dtype=torch.float32)
    assert_float32_parity(x, w, b, {"padding": 1})


@pytest.mark.parametrize("x_shape,w_shape,kwargs,bias", [
    ((1, 3, 57, 61), (5, 3, 3, 3), {"padding": 1}, True),
    ((1, 3, 57, 61), (5, 3, 5, 5), {"stride": 2, "padding": 2}, True),  # kernel larger than stride
    ((2, 3, 57, 61), (4, 3, 4, 4), {"stride": 3, "padding": (0, 1), "dilation": (2, 1)}, False),
    ((3, 8, 5, 7), (8, 2, 3, 3), {"groups": 4, "padding": "same"}, True),
    ((4, 6, 3, 3), (5, 6, 1, 1), {}, True),  # 1x1 on tiny images: batched columns path
    ((2, 6, 9, 10), (5, 6, 1, 1), {}, True),  # 1x1 direct GEMM path
    ((2, 4, 3, 3), (2, 4, 3, 3), {}, True),  # 1x1 output
])
def test_odd_shapes_parity(device, x_shape, w_shape, kwargs, bias):
    x, w, b = conv_inputs(device, x_shape, w_shape, bias, dtype=torch.float32)
    assert_float32_parity(x, w, b, kwargs)


# CPU forward routes without groups (conv2d.cpp): output rows of 8+ pixels go through packed
# column panels; at unit horizontal stride with rows a whole number of vectors (8 float32 / 4
# float64 values on AVX2, 16 / 8 on AVX-512) and whole panels, the GEMM reads the padded images
# in place (implicit GEMM). Rows of 8, 12, 16, 24 and 32 pixels, uneven rows, vertical stride,
# dilation, asymmetric 'same' padding, several images per chunk, a partial last panel, and
# horizontal strides 2 and 3 (gathered from rows split into phases, or, where the rows are not
# whole vectors, panels written from every other value).
FORWARD_ROUTE_CASES = [
    ((3, 5, 8, 8), (7, 5, 3, 3), {"padding": 1}),
    ((2, 4, 12, 12), (6, 4, 3, 3), {"padding": 1}),
    ((2, 3, 16, 16), (4, 3, 3, 3), {"padding": 1}),
    ((1, 3, 10, 24), (5, 3, 3, 3), {"padding": 1, "dilation": (1, 1)}),
    ((2, 3, 9, 32), (4, 3, 4, 4), {"padding": "same"}),
    ((2, 3, 20, 20), (4, 3, 3, 3), {"padding": 2, "dilation": 2}),
    ((2, 3, 17, 16), (4, 3, 3, 3), {"stride": (2, 1), "padding": 1}),
    ((2, 3, 9, 14), (4, 3, 3, 3), {"padding": 1}),
    ((3, 2, 5, 11), (3, 2, 2, 4), {"padding": (1, 0)}),
    ((2, 3, 18, 18), (4, 3, 3, 3), {"stride": 2, "padding": 1}),
    ((2, 3, 33, 32), (4, 3, 3, 3), {"stride": 2, "padding": 1}),  # stride-2 rows of whole panels
    ((1, 2, 31, 64), (3, 2, 7, 7), {"stride": 2, "padding": 3}),
    ((1, 3, 10, 48), (4, 3, 3, 3), {"stride": (2, 3), "padding": 1, "dilation": 2}),
    ((2, 4, 16, 32), (5, 4, 1, 1), {"stride": 2}),
]


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("x_shape,w_shape,kwargs", FORWARD_ROUTE_CASES)
def test_forward_routes_parity(device, x_shape, w_shape, kwargs, dtype):
    x, w, b = conv_inputs(device, x_shape, w_shape, True, dtype=dtype)
    with torchext.backends.cpu.flags(conv_algorithm="direct"):  # these are the direct path's routes
        _forward_routes_parity(x, w, b, kwargs, dtype)


def _forward_routes_parity(x, w, b, kwargs, dtype):
    if dtype == torch.float32:
        assert_float32_parity(x, w, b, kwargs)
    else:
        compare_with_native(lambda *a: F.conv2d(*a, **kwargs), lambda *a: NF.conv2d(*a, **kwargs), [x, w, b])


@pytest.mark.parametrize("x_shape", [
    (9, 16, 64, 64),  # columns of several images per chunk, and a last partial chunk
    (2, 64, 64, 64),  # one image per chunk
])
def test_batch_split_into_chunks(device, x_shape):
    # Columns for the whole batch would exceed the buffer budget (4M elements). float64: the
    # weight gradient sums 36864 products, too many for a tight float32 comparison.
    x, w, b = conv_inputs(device, x_shape, (4, x_shape[1], 3, 3), True)
    compare_with_native(lambda *a: F.conv2d(*a, padding=1), lambda *a: NF.conv2d(*a, padding=1), [x, w, b])


@pytest.mark.parametrize("threads", [2, 3])
@pytest.mark.parametrize("groups", [1, 2])
def test_batch_split_across_threads(threads, groups):
    # CPU: with several threads and wide per-image outputs the batch is split by image, each part
    # summing its own weight gradient; 5 images over 2 or 3 threads gives uneven parts.
    # The split changes the order of the weight gradient's 5 * 16 * 16-term sums: judged by
    # their rounding bound.
    previous = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        x, w, b = conv_inputs("cpu", (5, 4, 16, 16), (6, 4 // groups, 3, 3), True)
        compare_multilinear_with_native(lambda *a: F.conv2d(*a, padding=1, groups=groups),
                                        lambda *a: NF.conv2d(*a, padding=1, groups=groups), [x, w, b],
                                        5 * 16 * 16)
    finally:
        torch.set_num_threads(previous)


@pytest.mark.parametrize("kernel,kwargs", [(3, {"padding": 1}), (1, {}), (1, {"stride": 2})])
def test_channels_last_input(device, kernel, kwargs):
    x = torch.randn(2, 6, 9, 8, device=device).to(memory_format=torch.channels_last).requires_grad_()
    w = torch.randn(4, 6, kernel, kernel, device=device).to(memory_format=torch.channels_last).requires_grad_()
    b = torch.randn(4, device=device, requires_grad=True)
    compare_with_native(lambda *a: F.conv2d(*a, **kwargs), lambda *a: NF.conv2d(*a, **kwargs), [x, w, b])


def test_non_contiguous_weight_and_input(device):
    x = torch.randn(2, 7, 5, 6, device=device).transpose(2, 3).requires_grad_()
    w = torch.randn(3, 3, 5, 4, device=device).permute(2, 3, 0, 1).requires_grad_()  # (5, 4, 3, 3)
    assert not w.is_contiguous() and not x.is_contiguous()
    compare_with_native(lambda x, w: F.conv2d(x[:, :4], w, stride=2), lambda x, w: NF.conv2d(x[:, :4], w, stride=2),
                        [x, w])


def test_empty_batch(device):
    x, w, b = conv_inputs(device, (0, 3, 5, 5), (4, 3, 3, 3), True, dtype=torch.float32)
    compare_with_native(F.conv2d, NF.conv2d, [x, w, b])


def test_no_input_channels_gives_the_bias(device):
    # An empty sum over channels (native returns a 0-channel tensor here instead).
    x, w, b = conv_inputs(device, (2, 0, 5, 5), (4, 0, 3, 3), True, dtype=torch.float32)
    out = F.conv2d(x, w, b)
    torch.testing.assert_close(out, b.detach().view(1, 4, 1, 1).expand(2, 4, 3, 3))
    out.backward(torch.ones_like(out))
    torch.testing.assert_close(b.grad, torch.full((4,), 18.0, device=device))
    assert x.grad.shape == x.shape and w.grad.shape == w.shape


def test_float64_parity(device):
    x, w, b = conv_inputs(device, (2, 5, 11, 9), (6, 5, 3, 3), True)
    compare_with_native(lambda *a: F.conv2d(*a, stride=2, padding=1), lambda *a: NF.conv2d(*a, stride=2, padding=1),
                        [x, w, b])


@pytest.mark.parametrize("padding", ["same", "valid", 1, (1, 2), [2]])
def test_padding_forms_match_native_shapes(device, padding):
    x = torch.randn(1, 2, 7, 8, device=device)
    w = torch.randn(3, 2, 4, 3, device=device)
    torch.testing.assert_close(F.conv2d(x, w, padding=padding), NF.conv2d(x, w, padding=padding))


@pytest.mark.parametrize("requires_grad,expected_mask", [
    ((True, False, False), [True, False, False]),  # frozen weight and bias: no im2col, no weight GEMM
    ((True, False, True), [True, False, True]),
    ((False, True, False), [False, True, False]),
    ((False, True, True), [False, True, True]),
])
def test_backward_computes_only_what_is_needed(device, requires_grad, expected_mask):
    x, w, b = conv_inputs(device, (2, 3, 6, 6), (4, 3, 3, 3), True, dtype=torch.float32,
                          requires_grad=requires_grad)
    out = F.conv2d(x, w, b, padding=1)
    with OpRecorder() as rec:
        out.sum().backward()
    backward_calls = rec.torchext_calls("conv2d_backward")
    assert len(backward_calls) == 1
    assert list(backward_calls[0][-1]) == expected_mask
    for t, needed in zip((x, w, b), requires_grad):
        assert (t.grad is not None) == needed


def test_backward_op_returns_none_for_unasked_gradients(device):
    x, w, _ = conv_inputs(device, (2, 3, 6, 6), (4, 3, 3, 3), False, dtype=torch.float32,
                          requires_grad=(False, False, False))
    gout = torch.randn(2, 4, 4, 4, device=device)
    gi, gw, gb = torchext.ops.conv2d_backward(gout, x, w, [1, 1], [0, 0, 0, 0], [1, 1], 1, [False, True, False])
    assert gi is None and gb is None
    ref_x, ref_w = x.detach().clone().requires_grad_(), w.detach().clone().requires_grad_()
    NF.conv2d(ref_x, ref_w).backward(gout)
    torch.testing.assert_close(gw, ref_w.grad, rtol=1e-4, atol=1e-4)


def op(x, w, b=None, stride=(1, 1), padding=(0, 0, 0, 0), dilation=(1, 1), groups=1):
    return torchext.ops.conv2d(x, w, b, list(stride), list(padding), list(dilation), groups)


def test_errors(device):
    x = torch.randn(2, 4, 6, 6, device=device)
    w = torch.randn(6, 4, 3, 3, device=device)
    with pytest.raises(RuntimeError, match=r"torchext.conv2d: expected input to be 4-D"):
        op(x[0], w)
    with pytest.raises(RuntimeError, match=r"torchext.conv2d: expected input to be 3-D \(unbatched\) or 4-D"):
        F.conv2d(x[0, 0], w)
    with pytest.raises(RuntimeError, match=r"torchext.conv2d: expected weight to be 4-D"):
        op(x, w[0])
    with pytest.raises(RuntimeError, match=r"torchext.conv2d: expected input to be .*float64 but got (Long|Bool|Int)"):
        op(x.long(), w)
    with pytest.raises(RuntimeError, match=r"torchext.conv2d: expected input to be .*float64 but got (Long|Bool|Int)"):
        op(x.bool(), w)
    with pytest.raises(RuntimeError, match=r"torchext.conv2d: expected input and weight to have the same dtype"):
        op(x, w.double())
    with pytest.raises(RuntimeError, match=r"torchext.conv2d: expected input and bias to have the same dtype"):
        op(x, w, torch.zeros(6, dtype=torch.float64, device=device))
    with pytest.raises(RuntimeError, match=r"torchext.conv2d: expected bias of shape \[6\]"):
        op(x, w, torch.zeros(5, device=device))
    with pytest.raises(RuntimeError, match=r"torchext.conv2d: weight of shape .* expects 8 input channels"):
        op(x, torch.randn(6, 4, 3, 3, device=device), groups=2)
    with pytest.raises(RuntimeError, match=r"torchext.conv2d: expected input channels \(4\) to be divisible by groups \(3\)"):
        op(x, torch.randn(6, 1, 3, 3, device=device), groups=3)
    with pytest.raises(RuntimeError, match=r"torchext.conv2d: expected weight's output channels \(5\) to be divisible by groups \(2\)"):
        op(x, torch.randn(5, 2, 3, 3, device=device), groups=2)
    with pytest.raises(RuntimeError, match=r"torchext.conv2d: expected groups to be positive"):
        op(x, w, groups=0)
    with pytest.raises(RuntimeError, match=r"torchext.conv2d: expected stride to be positive"):
        op(x, w, stride=(0, 1))
    with pytest.raises(RuntimeError, match=r"torchext.conv2d: expected dilation to be positive"):
        op(x, w, dilation=(1, -1))
    with pytest.raises(RuntimeError, match=r"torchext.conv2d: expected padding to be non-negative"):
        op(x, w, padding=(0, -1, 0, 0))
    with pytest.raises(RuntimeError, match=r"torchext.conv2d: expected padding to have 4 values"):
        op(x, w, padding=(1, 1))
    with pytest.raises(RuntimeError, match=r"torchext.conv2d: computed output size \(0 x 4\) is too small"):
        op(x, torch.randn(6, 4, 7, 3, device=device))
    with pytest.raises(RuntimeError, match=r"the dilated kernel \(5 x 5\) is larger than the padded input \(4 x 4\)"):
        op(x[:, :, :4, :4], w, dilation=(2, 2))
    with pytest.raises(RuntimeError, match=r"torchext.conv2d: padding='same' is not supported for strided"):
        F.conv2d(x, w, padding="same", stride=2)
    with pytest.raises(RuntimeError, match=r"torchext.conv2d: invalid padding string 'full'"):
        F.conv2d(x, w, padding="full")
    with pytest.raises(RuntimeError, match=r"torchext.conv2d: expected stride to be an int or 2 ints"):
        F.conv2d(x, w, stride=(1, 2, 3))
    with pytest.raises(RuntimeError, match=r"torchext.conv2d_backward: expected grad_output of shape \[2, 6, 4, 4\]"):
        torchext.ops.conv2d_backward(torch.randn(2, 6, 5, 4, device=device), x, w, [1, 1], [0, 0, 0, 0], [1, 1], 1,
                                     [True, True, True])


OPCHECK_CONFIGS = [
    ((2, 3, 6, 7), (4, 3, 3, 3), [1, 1], [1, 1, 1, 1], [1, 1], 1),
    ((2, 4, 7, 6), (6, 2, 2, 3), [2, 1], [0, 1, 1, 0], [1, 2], 2),
    ((3, 4, 5, 5), (5, 4, 1, 1), [1, 1], [0, 0, 0, 0], [1, 1], 1),
]


@pytest.mark.parametrize("x_shape,w_shape,stride,padding,dilation,groups", OPCHECK_CONFIGS)
def test_opcheck_conv2d(device, x_shape, w_shape, stride, padding, dilation, groups):
    x = torch.randn(x_shape, device=device)
    w = torch.randn(w_shape, device=device)
    b = torch.randn(w_shape[0], device=device)
    torch.library.opcheck(torch.ops.torchext.conv2d.default, (x, w, b, stride, padding, dilation, groups))
    torch.library.opcheck(torch.ops.torchext.conv2d.default, (x, w, None, stride, padding, dilation, groups))


@pytest.mark.parametrize("mask", [[True, True, True], [True, False, False], [False, True, True]])
@pytest.mark.parametrize("x_shape,w_shape,stride,padding,dilation,groups", OPCHECK_CONFIGS)
def test_opcheck_conv2d_backward(device, x_shape, w_shape, stride, padding, dilation, groups, mask):
    x = torch.randn(x_shape, device=device)
    w = torch.randn(w_shape, device=device)
    out = op(x, w, None, stride, padding, dilation, groups)
    g = torch.randn_like(out)
    torch.library.opcheck(torch.ops.torchext.conv2d_backward.default,
                          (g, x, w, stride, padding, dilation, groups, mask))


# Depthwise convolutions (groups == input channels) run on the direct depthwise kernels: the
# MobileNet v2 / EfficientNet / ConvNeXt layers at batch 2 (3x3 stride 1 and 2, 5x5, 7x7 padding
# 3), held to 2x native float32's error from the float64 result.
DEPTHWISE_MODEL_CONVS = [
    ((32, 112, 112), (32, 1, 3, 3), {"padding": 1, "groups": 32}, False),
    ((96, 112, 112), (96, 1, 3, 3), {"stride": 2, "padding": 1, "groups": 96}, False),
    ((144, 56, 56), (144, 1, 3, 3), {"padding": 1, "groups": 144}, False),
    ((192, 28, 28), (192, 1, 3, 3), {"stride": 2, "padding": 1, "groups": 192}, False),
    ((960, 7, 7), (960, 1, 3, 3), {"padding": 1, "groups": 960}, False),
    ((144, 56, 56), (144, 1, 5, 5), {"stride": 2, "padding": 2, "groups": 144}, False),
    ((480, 14, 14), (480, 1, 5, 5), {"padding": 2, "groups": 480}, False),
    ((96, 56, 56), (96, 1, 7, 7), {"padding": 3, "groups": 96}, True),
    ((768, 7, 7), (768, 1, 7, 7), {"padding": 3, "groups": 768}, True),
]


@pytest.mark.parametrize("x_shape,w_shape,kwargs,bias", DEPTHWISE_MODEL_CONVS)
def test_depthwise_model_parity(device, x_shape, w_shape, kwargs, bias):
    x, w, b = conv_inputs(device, (2, *x_shape), w_shape, bias, dtype=torch.float32)
    assert_float32_parity(x, w, b, kwargs, factor=2)


# Both routes of a depthwise convolution (the depthwise kernels, forced also for one channel and
# groups 1, and im2col + GEMM under "direct") in float64, over odd sizes, strides, asymmetric
# padding, dilation and channel multipliers 1-3.
DEPTHWISE_ROUTE_CASES = [
    ((2, 5, 9, 11), (5, 1, 3, 3), {"padding": 1, "groups": 5}),
    ((3, 4, 13, 10), (8, 1, 3, 3), {"stride": 2, "padding": 1, "groups": 4}),
    ((1, 3, 17, 40), (9, 1, 5, 5), {"stride": (1, 3), "padding": (2, 0), "groups": 3}),
    ((2, 2, 12, 9), (2, 1, 7, 7), {"padding": 3, "groups": 2}),
    ((1, 4, 20, 70), (4, 1, 3, 2), {"stride": (2, 1), "padding": (1, 2), "dilation": (3, 2), "groups": 4}),
    ((2, 1, 8, 7), (3, 1, 3, 3), {"padding": "same"}),
    ((1, 6, 5, 33), (6, 1, 1, 4), {"padding": (0, 3), "stride": 3, "groups": 6}),
]


@pytest.mark.parametrize("algorithm", ["depthwise", "direct"])
@pytest.mark.parametrize("x_shape,w_shape,kwargs", DEPTHWISE_ROUTE_CASES)
def test_depthwise_routes_float64(device, x_shape, w_shape, kwargs, algorithm):
    x, w, b = conv_inputs(device, x_shape, w_shape, True)
    with torchext.backends.cpu.flags(conv_algorithm=algorithm):
        compare_with_native(lambda *a: F.conv2d(*a, **kwargs), lambda *a: NF.conv2d(*a, **kwargs), [x, w, b])


@pytest.mark.parametrize("x_shape,w_shape,kwargs", DEPTHWISE_ROUTE_CASES[:5])
def test_depthwise_gradcheck(device, x_shape, w_shape, kwargs):
    x, w, b = conv_inputs(device, x_shape, w_shape, True)
    assert gradcheck(lambda x, w, b: F.conv2d(x, w, b, **kwargs), (x, w, b), fast_mode=True)


def test_depthwise_weight_grad_ignores_unread_columns(device):
    # 8 columns, 3-wide kernel, stride 2, no padding: column 7 is read by no output, so an inf
    # there must not reach the weight gradient (the kernels' vectors run past a row's last output).
    x = torch.randn(2, 3, 6, 8, device=device)
    x[:, :, :, 7] = float("inf")
    x.requires_grad_()
    w = torch.randn(3, 1, 3, 3, device=device, requires_grad=True)
    compare_with_native(lambda *a: F.conv2d(*a, stride=2, groups=3), lambda *a: NF.conv2d(*a, stride=2, groups=3),
                        [x, w])


def test_depthwise_huge_dilation(device):
    # The depthwise kernels' padded planes would be ~2e9 values here: im2col takes it instead.
    x, w, b = conv_inputs(device, (1, 2, 3, 3), (2, 1, 2, 2), True, dtype=torch.float32)
    kwargs = {"padding": 50000, "dilation": 100000, "groups": 2}
    compare_with_native(lambda *a: F.conv2d(*a, **kwargs), lambda *a: NF.conv2d(*a, **kwargs), [x, w, b])


def test_depthwise_algorithm_setting():
    assert torchext.backends.cpu.conv_algorithm == "auto"
    with torchext.backends.cpu.flags(conv_algorithm="depthwise"):
        assert torchext.backends.cpu.conv_algorithm == "depthwise"
    assert torchext.backends.cpu.conv_algorithm == "auto"
