"""Property-based parity with native for every torchext op (hypothesis, fixed seed).

Each test draws EXAMPLES_PER_OP examples (tests/fuzz_strategies.py; the count is in every test id
as `[N examples]`): random shapes with empty, size-1 and odd dims and larger channel counts,
random layouts (contiguous, every dim strided, last two dims transposed, channels_last),
float32 and float64, and about one example in five with NaN/+Inf/-Inf entries. Outputs and the
gradients of every input are compared with native: NaN where native has NaN, the same
infinities, finite values within the op table's tolerances (torchext/optable/tolerance.py:
rtol, and atol growing with the reduction length).
"""
import math

import pytest
import torch
import torch.nn.functional as NF
import torchvision
from hypothesis import assume, given
from hypothesis import strategies as st

from torchext import functional as F
from torchext.optable import BY_NAME
from fuzz_strategies import (CHANNELS, DTYPES, EXAMPLES_PER_OP, POSITIVE_SIDES, SIDES, TensorSpec,
                             broadcastable_shapes, broadcastable_to, check_parity,
                             fuzz, seeds, shapes, tensors, tolerance)

N = EXAMPLES_PER_OP
FUZZED = {}  # op table name -> the fuzz test that covers it


def fuzzes(*names):
    """Marks a test as the fuzz test of these op table entries (test_every_table_op_is_fuzzed)."""
    def register(test):
        FUZZED.update(dict.fromkeys(names, test.__name__))
        return test
    return register


# Every test's id carries its example count.
fuzzed = pytest.mark.parametrize("examples", [N], ids=lambda n: f"{n} examples")

dtypes = st.sampled_from(DTYPES)


def _other_dtype(dtype):
    return torch.float64 if dtype == torch.float32 else torch.float32


# ---------------------------------------------------------------- elementwise

BINARY = {"add": (F.add, torch.add), "sub": (F.sub, torch.sub)}


@st.composite
def binary_operands(draw):
    """(a, b): tensors of broadcastable shapes (sometimes different float dtypes, which promote),
    or a tensor and a Python number."""
    dtype = draw(dtypes)
    sa, sb = draw(broadcastable_shapes())
    a = draw(tensors(sa, dtype))
    kind = draw(st.sampled_from(["tensor", "tensor", "mixed dtype", "number"]))
    if kind == "number":
        return a, draw(st.sampled_from([0, 1, -2, 3.5, -0.25, 1e30, float("inf"), float("nan")]))
    b_dtype = _other_dtype(dtype) if kind == "mixed dtype" else dtype
    return a, draw(tensors(sb, b_dtype))


@fuzzes("add", "sub")
@fuzzed
@pytest.mark.parametrize("name", list(BINARY))
@fuzz()
@given(operands=binary_operands(), alpha=st.sampled_from([1, 2, -1, 0, 0.5, -3.25]))
def test_add_sub(examples, name, operands, alpha):
    ours, native = BINARY[name]
    check_parity(lambda a, b: ours(a, b, alpha=alpha), lambda a, b: native(a, b, alpha=alpha), operands)


@fuzzes("mul")
@fuzzed
@fuzz()
@given(operands=binary_operands())
def test_mul(examples, operands):
    check_parity(F.mul, torch.mul, operands)


@fuzzes("rsub")
@fuzzed
@fuzz()
@given(operands=binary_operands(), alpha=st.sampled_from([1, 2, -0.5]))
def test_number_first(examples, operands, alpha):
    """number op tensor (2 - x, 2 + alpha * x, 2 * x) and rsub, against native's tensor-first forms."""
    x, y = operands
    number = y if not isinstance(y, TensorSpec) else 1.5
    check_parity(lambda t: F.add(number, t, alpha=alpha), lambda t: torch.rsub(t, number, alpha=-alpha), [x])
    check_parity(lambda t: F.sub(number, t, alpha=alpha), lambda t: torch.rsub(t, number, alpha=alpha), [x])
    check_parity(lambda t: F.rsub(t, number, alpha=alpha), lambda t: torch.rsub(t, number, alpha=alpha), [x])
    check_parity(lambda t: F.mul(number, t), lambda t: torch.mul(t, number), [x])


EXPONENTS = [0, 1, 2, 3, -1, -2, 0.5, -0.5, 1.5, 2.5, -3, 4, 0.0, 1.0, 2.0, 1e-3]


@fuzzes("pow")
@fuzzed
@fuzz()
@given(data=st.data(), dtype=dtypes, exponent=st.sampled_from(EXPONENTS))
def test_pow(examples, data, dtype, exponent):
    x = data.draw(tensors(data.draw(shapes()), dtype))
    check_parity(lambda t: F.pow(t, exponent), lambda t: torch.pow(t, exponent), [x])


# ---------------------------------------------------------------- reductions, views

@fuzzes("sum")
@fuzzed
@fuzz()
@given(data=st.data(), dtype=dtypes, keepdim=st.booleans(), out_dtype=st.sampled_from([None, *DTYPES]))
def test_sum(examples, data, dtype, keepdim, out_dtype):
    shape = data.draw(shapes(0, 4))
    x = data.draw(tensors(shape, dtype))
    nd = len(shape)
    form = data.draw(st.sampled_from(["all", "one", "list"]))
    if form == "all" or nd == 0:
        dim = None
    elif form == "one":
        dim = data.draw(st.integers(-nd, nd - 1))
    else:
        picked = data.draw(st.lists(st.integers(0, nd - 1), unique=True, max_size=nd))
        dim = [d - nd if data.draw(st.booleans()) else d for d in picked]
    summed = range(nd) if dim is None or dim == [] else [dim] if isinstance(dim, int) else dim
    terms = 1
    for d in summed:
        terms *= shape[d]
    check_parity(lambda t: F.sum(t, dim, keepdim, dtype=out_dtype),
                 lambda t: torch.sum(t, dim, keepdim, dtype=out_dtype), [x],
                 terms=terms, dtype=out_dtype or dtype)


def _same_view(ours, native, base_ours, base_native):
    """A view where native makes a view (same strides), a copy where native copies."""
    assert ours.stride() == native.stride(), f"strides {ours.stride()} != native {native.stride()}"
    shares_ours = ours.untyped_storage().data_ptr() == base_ours.untyped_storage().data_ptr()
    shares_native = native.untyped_storage().data_ptr() == base_native.untyped_storage().data_ptr()
    assert shares_ours == shares_native or ours.numel() == 0


@fuzzes("t", "transpose", "flatten")
@fuzzed
@fuzz()
@given(data=st.data(), dtype=dtypes, op=st.sampled_from(["t", "transpose", "flatten"]))
def test_views(examples, data, dtype, op):
    shape = data.draw(shapes(0 if op != "transpose" else 1, 2 if op == "t" else 5))
    x = data.draw(tensors(shape, dtype))
    nd = max(len(shape), 1)
    if op == "t":
        ours, native = F.t, torch.t
    elif op == "transpose":
        d0, d1 = data.draw(st.integers(-nd, nd - 1)), data.draw(st.integers(-nd, nd - 1))
        ours, native = (lambda t: F.transpose(t, d0, d1)), (lambda t: torch.transpose(t, d0, d1))
    else:
        start = data.draw(st.integers(-nd, nd - 1))
        end = data.draw(st.integers(start % nd, nd - 1))
        ours, native = (lambda t: F.flatten(t, start, end)), (lambda t: torch.flatten(t, start, end))
    a, b = x.build(), x.build()
    _same_view(ours(a), native(b), a, b)
    check_parity(ours, native, [x])


# ---------------------------------------------------------------- matmul

@st.composite
def matmul_shapes(draw):
    """Every rank combination 1-4 x 1-4 with broadcast batch dims and empty sizes."""
    ra, rb = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    n, k, m = draw(SIDES), draw(SIDES), draw(SIDES)
    batch_a, batch_b = draw(broadcastable_shapes(2, max_dims=2))
    a = (k,) if ra == 1 else (*batch_a[len(batch_a) - min(ra - 2, len(batch_a)):], n, k)
    b = (k,) if rb == 1 else (*batch_b[len(batch_b) - min(rb - 2, len(batch_b)):], k, m)
    return a, b, k


@fuzzes("matmul")
@fuzzed
@fuzz()
@given(data=st.data(), dtype=dtypes, dims=matmul_shapes())
def test_matmul(examples, data, dtype, dims):
    sa, sb, k = dims
    a, b = data.draw(tensors(sa, dtype)), data.draw(tensors(sb, dtype))
    # A gradient sums over the other contraction dims and the broadcast batch as well.
    grad_terms = max(k, max((*sa, *sb, 1))) * 16
    check_parity(F.matmul, torch.matmul, [a, b], terms=max(k, 1), grad_terms=grad_terms)


# ---------------------------------------------------------------- activations

@fuzzes("relu")
@fuzzed
@fuzz()
@given(data=st.data(), dtype=dtypes)
def test_relu(examples, data, dtype):
    x = data.draw(tensors(data.draw(shapes()), dtype))
    check_parity(F.relu, torch.relu, [x])
    check_parity(lambda t: F.relu(t * 1), lambda t: torch.relu(t * 1), [x])


@fuzzes("relu_")
@fuzzed
@fuzz()
@given(data=st.data(), dtype=dtypes)
def test_relu_inplace(examples, data, dtype):
    """In place on a view (strided, transposed, channels_last): the view's elements change as
    native's, and nothing outside the view is written. Then through autograd on a non-leaf."""
    spec = data.draw(tensors(data.draw(shapes()), dtype, grad=False))
    a, b = spec.build(), spec.build()
    assert F.relu_(a) is a
    torch.relu_(b)
    torch.testing.assert_close(a, b, rtol=0, atol=0, equal_nan=True)
    if b._base is not None:
        torch.testing.assert_close(a._base, b._base, rtol=0, atol=0, equal_nan=True)
    leaf = TensorSpec(spec.shape, dtype, spec.layout, spec.seed, spec.specials, grad=True)
    check_parity(lambda t: F.relu(t * 1, inplace=True), lambda t: torch.relu_(t * 1), [leaf])


@fuzzes("add_relu")
@fuzzed
@fuzz()
@given(data=st.data(), dtype=dtypes)
def test_add_relu(examples, data, dtype):
    shape = data.draw(shapes())
    a, b = data.draw(tensors(shape, dtype)), data.draw(tensors(shape, dtype))
    check_parity(F.add_relu, lambda x, y: torch.relu(x + y), [a, b])


def _vector_path_at_nan(native, nan_gradient):
    """native, with the gradient at NaN inputs of its vectorized loop: hardtanh's (and relu6's) is
    zero and hardswish's NaN there, while its scalar tail loop (the last few elements, or all of a
    small tensor) passes the gradient. Ours is the vectorized path's everywhere."""
    def run(t):
        at_nan = t.isnan()
        y = native(t)
        # y times NaN where the input is NaN (times 1 elsewhere, so no 0 * inf from the branch
        # torch.where leaves out): the gradient there is NaN.
        nan_branch = y * torch.where(at_nan, y.detach(), 1.0) if nan_gradient else y.detach()
        return torch.where(at_nan, nan_branch, y)
    return run


POINTWISE = {
    "sigmoid": (F.sigmoid, torch.sigmoid),
    "silu": (F.silu, NF.silu),
    "hardtanh": (lambda t: F.hardtanh(t, -0.5, 2.0), _vector_path_at_nan(lambda t: NF.hardtanh(t, -0.5, 2.0), False)),
    "relu6": (F.relu6, _vector_path_at_nan(NF.relu6, False)),
    "hardswish": (F.hardswish, _vector_path_at_nan(NF.hardswish, True)),
    "hardsigmoid": (F.hardsigmoid, NF.hardsigmoid),
    # Native's float64 is the reference: its float32 erf is within ~2e-7 absolute, and its float32
    # tanh-gelu gradient cancels in 1 - tanh^2 near x = -5 (ours does neither).
    "gelu": (F.gelu, lambda t: NF.gelu(t.double()).to(t.dtype)),
    "gelu tanh": (lambda t: F.gelu(t, approximate="tanh"),
                  lambda t: NF.gelu(t.double(), approximate="tanh").to(t.dtype)),
}


@fuzzes("sigmoid", "silu", "hardtanh", "relu6", "hardswish", "hardsigmoid", "gelu")
@fuzzed
@pytest.mark.parametrize("name", list(POINTWISE))
@fuzz()
@given(data=st.data(), dtype=dtypes, scale=st.sampled_from([1.0, 4.0, 40.0]))
def test_pointwise(examples, name, data, dtype, scale):
    """scale spreads the values over every kink (+-3, 0 and 6) and into the saturated tails."""
    ours, native = POINTWISE[name]
    x = data.draw(tensors(data.draw(shapes()), dtype))
    # Native's float64 tanh-gelu gradient loses the digits of 1 - tanh^2 beyond x = -6 (to 0 from
    # x = -6.5: up to ~3e-13 absolute at scale 40), where ours keeps them.
    grad_terms = 256 if name == "gelu tanh" and dtype == torch.float64 else 1
    check_parity(lambda t: ours(t * scale), lambda t: native(t * scale), [x], grad_terms=grad_terms)


POINTWISE_INPLACE = {
    "sigmoid_": (F.sigmoid_, torch.sigmoid_),
    "hardtanh_": (lambda t: F.hardtanh_(t, -0.5, 2.0), _vector_path_at_nan(lambda t: NF.hardtanh_(t, -0.5, 2.0), False)),
    "silu inplace": (lambda t: F.silu(t, inplace=True), lambda t: NF.silu(t, inplace=True)),
    "relu6 inplace": (lambda t: F.relu6(t, inplace=True), _vector_path_at_nan(lambda t: NF.relu6(t, inplace=True), False)),
    "hardswish inplace": (lambda t: F.hardswish(t, inplace=True),
                          _vector_path_at_nan(lambda t: NF.hardswish(t, inplace=True), True)),
    "hardsigmoid inplace": (lambda t: F.hardsigmoid(t, inplace=True), lambda t: NF.hardsigmoid(t, inplace=True)),
}


@fuzzes("sigmoid_", "hardtanh_")
@fuzzed
@pytest.mark.parametrize("name", list(POINTWISE_INPLACE))
@fuzz()
@given(data=st.data(), dtype=dtypes)
def test_pointwise_inplace(examples, name, data, dtype):
    """In place on a view (strided, transposed, channels_last): the view's elements change as
    native's, and nothing outside the view is written. Then through autograd on a non-leaf."""
    ours, native = POINTWISE_INPLACE[name]
    spec = data.draw(tensors(data.draw(shapes()), dtype, grad=False))
    a, b = spec.build().mul_(4), spec.build().mul_(4)
    assert ours(a) is a
    native(b)  # in place (the result of a _vector_path_at_nan wrapper is not b)
    rtol, atol = tolerance(dtype, 1)
    torch.testing.assert_close(a, b, rtol=rtol, atol=atol, equal_nan=True)
    if b._base is not None:
        torch.testing.assert_close(a._base, b._base, rtol=rtol, atol=atol, equal_nan=True)
    leaf = TensorSpec(spec.shape, dtype, spec.layout, spec.seed, spec.specials, grad=True)
    check_parity(lambda t: ours(t * 4), lambda t: native(t * 4), [leaf])


# ---------------------------------------------------------------- loss

@fuzzes("binary_cross_entropy_with_logits")
@fuzzed
@fuzz()
@given(data=st.data(), dtype=dtypes, reduction=st.sampled_from(["none", "mean", "sum"]))
def test_binary_cross_entropy_with_logits(examples, data, dtype, reduction):
    shape = data.draw(shapes(0, 4))
    x = data.draw(tensors(shape, dtype))
    # Targets are probabilities: no NaN/Inf there (native itself answers an infinite target
    # differently with and without pos_weight=1).
    target = data.draw(tensors(shape, dtype, low=0.0, high=1.0, grad=data.draw(st.booleans()), specials=False))
    weight = pos_weight = None
    if data.draw(st.booleans()):
        weight = data.draw(tensors(data.draw(broadcastable_to(shape)), dtype, grad=False, low=0.0, high=2.0))
    if data.draw(st.booleans()):
        pos_weight = data.draw(tensors(data.draw(broadcastable_to(shape)), dtype, grad=False, low=0.0, high=3.0))
    n = x.build().numel()
    terms = max(n, 1) if reduction != "none" else 1

    def run(fn):
        return lambda x, t, w, p: fn(x, t, weight=w, pos_weight=p, reduction=reduction)
    check_parity(run(F.binary_cross_entropy_with_logits), run(NF.binary_cross_entropy_with_logits),
                 [x, target, weight, pos_weight], terms=8 * terms)


# ---------------------------------------------------------------- conv2d, linear

@st.composite
def conv_args(draw):
    """(input shape, weight shape, kwargs) for a valid convolution. No zero input channels: native
    then returns zero output channels (ours gives the bias, see test_conv2d.py)."""
    groups = draw(st.sampled_from([1, 1, 2, 3, "depthwise"]))
    if groups == "depthwise":  # groups == channels (the depthwise kernels), multiplier 1-3
        groups = c_in = draw(st.sampled_from([1, 2, 4, 7, 16]))
        c_out = c_in * draw(st.sampled_from([1, 1, 2, 3]))
    else:
        c_in = draw(st.sampled_from([1, 2, 3, 5, 16])) if groups == 1 else groups * draw(st.sampled_from([1, 2, 5]))
        c_out = groups * draw(st.sampled_from([1, 2, 3, 8, 33 if groups == 1 else 4]))
    kh, kw = draw(st.integers(1, 4)), draw(st.integers(1, 4))
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    padding_form = draw(st.sampled_from(["int", "pair", "same", "valid"]))
    stride = (1, 1) if padding_form == "same" else (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    if padding_form == "int":
        padding = draw(st.integers(0, 3))
        pads = (padding, padding)
    elif padding_form == "pair":
        padding = (draw(st.integers(0, 3)), draw(st.integers(0, 2)))
        pads = padding
    else:
        padding, pads = padding_form, (0, 0)
    # The smallest input that leaves an output of at least one element.
    min_h = max(1, dilation[0] * (kh - 1) + 1 - 2 * pads[0])
    min_w = max(1, dilation[1] * (kw - 1) + 1 - 2 * pads[1])
    h, w = min_h + draw(st.integers(0, 6)), min_w + draw(st.integers(0, 6))
    batch = draw(st.sampled_from([(0,), (1,), (2,), (3,), ()]))  # () is an unbatched input
    kwargs = dict(stride=stride if draw(st.booleans()) else stride[0] if stride[0] == stride[1] else stride,
                  padding=padding, dilation=dilation, groups=groups)
    return (*batch, c_in, h, w), (c_out, c_in // groups, kh, kw), kwargs


@fuzzes("conv2d")
@fuzzed
@fuzz()
@given(data=st.data(), dtype=dtypes, args=conv_args(), bias=st.booleans())
def test_conv2d(examples, data, dtype, args, bias):
    """NaN/Inf go into the input only: an infinite weight meets the zero padding as 0 * Inf = NaN
    in an im2col convolution (ours, and native's float64 path) but not in native's direct
    (mkldnn) float32 path, so native disagrees with itself there."""
    x_shape, w_shape, kwargs = args
    x = data.draw(tensors(x_shape, dtype))
    w = data.draw(tensors(w_shape, dtype, specials=False))  # see the docstring
    b = data.draw(tensors((w_shape[0],), dtype, specials=False)) if bias else None
    terms = w_shape[1] * w_shape[2] * w_shape[3]
    # Weight/bias gradients sum over the batch and every output position as well.
    grad_terms = max(terms, x_shape[-1] * x_shape[-2] * (x_shape[0] if len(x_shape) == 4 else 1) * 4)
    check_parity(lambda x, w, b: F.conv2d(x, w, b, **kwargs), lambda x, w, b: NF.conv2d(x, w, b, **kwargs),
                 [x, w, b], terms=terms, grad_terms=grad_terms)


@fuzzes("linear")
@fuzzed
@fuzz()
@given(data=st.data(), dtype=dtypes, batch=shapes(0, 3), features=st.tuples(SIDES, SIDES),
       form=st.sampled_from(["bias", "no bias", "1-D weight"]))
def test_linear(examples, data, dtype, batch, features, form):
    in_f, out_f = features
    x = data.draw(tensors((*batch, in_f), dtype))
    w = data.draw(tensors((in_f,) if form == "1-D weight" else (out_f, in_f), dtype))
    b = data.draw(tensors((out_f,), dtype, specials=False)) if form == "bias" else None
    grad_terms = max(in_f, 1) * max(1, *batch, 1) * 4
    check_parity(F.linear, NF.linear, [x, w, b], terms=in_f, grad_terms=grad_terms)



# ---------------------------------------------------------------- batch_norm, pooling

@st.composite
def batch_norm_args(draw):
    """(input shape, training): 2-D to 5-D inputs; in training more than one value per channel
    (native refuses one), in eval also an empty batch."""
    training = draw(st.booleans())
    spatial = draw(shapes(0, 3, POSITIVE_SIDES))
    batch = draw(st.sampled_from([0, 1, 2, 3, 5] if not training else [1, 2, 3, 5]))
    if training and batch * math.prod(spatial) == 1:
        batch = 2
    return (batch, draw(CHANNELS), *spatial), training


def _batch_norm_inputs(data, dtype, args, affine):
    """x, the running statistics (None when not tracked) and weight and bias (None without
    affine) for a batch norm fuzz case, and its (terms, grad_terms)."""
    shape, training = args
    channels = shape[1]
    x = data.draw(tensors(shape, dtype))
    tracked = not training or data.draw(st.booleans())
    # Contiguous running statistics, weight and bias only: native 2.14's CPU backward reads them
    # as if contiguous, so a strided weight or running_var gives it wrong gradients
    # (test_batch_norm_strided_parameters pins torchext's answer).
    stats = [data.draw(tensors((channels,), dtype, layouts=("contiguous",), specials=False, grad=False,
                               low=lo, high=hi))
             if tracked else None for lo, hi in ((-1.0, 1.0), (0.5, 2.0))]
    params = [data.draw(tensors((channels,), dtype, layouts=("contiguous",), specials=False, low=lo, high=hi))
              if affine else None for lo, hi in ((0.5, 1.5), (-1.0, 1.0))]
    count = max(1, x.build().numel() // max(channels, 1))
    return x, stats, params, count


def _batch_norm_grad_terms(x, stats, params, count, training, eps):
    """The input gradient subtracts terms of size |grad| * |weight| * invstd that nearly cancel
    (exactly, for two values per channel), so its rounding error (ours and native's alike, both
    ~1e-5 off the float64 result for two close values) scales with invstd, not with the result."""
    built = x.build()
    channels = built.shape[1]
    values = built.detach().double().transpose(0, 1).reshape(channels, -1)
    var = values.var(1, unbiased=False) if training else stats[1].build().double()
    invstd = (var + eps).rsqrt()
    scale = invstd[invstd.isfinite()].max().item() if invstd.isfinite().any() else 1.0
    weight_max = params[0].build().abs().max().item() if params[0] is not None else 1.0
    return count * max(1.0, scale * weight_max)


@fuzzes("batch_norm")
@fuzzed
@fuzz()
@given(data=st.data(), dtype=dtypes, args=batch_norm_args(), affine=st.booleans(),
       momentum=st.sampled_from([0.1, 0.0, 1.0, 0.37]), eps=st.sampled_from([1e-5, 1e-3]))
def test_batch_norm(examples, data, dtype, args, affine, momentum, eps):
    """Output, updated running statistics (training) and the input/weight/bias gradients."""
    training = args[1]
    x, stats, params, count = _batch_norm_inputs(data, dtype, args, affine)

    def run(fn):
        def call(x, mean, var, w, b):
            out = fn(x, mean, var, w, b, training=training, momentum=momentum, eps=eps)
            return (out,) + tuple(s for s in (mean, var) if s is not None)
        return call
    check_parity(run(F.batch_norm), run(NF.batch_norm), [x, *stats, *params], terms=count,
                 grad_terms=_batch_norm_grad_terms(x, stats, params, count, training, eps))


@fuzzes("batch_norm_relu")
@fuzzed
@fuzz()
@given(data=st.data(), dtype=dtypes, args=batch_norm_args(), affine=st.booleans(), residual=st.booleans())
def test_batch_norm_relu(examples, data, dtype, args, affine, residual):
    """The fused relu(batch_norm(x) + residual) against native's batch_norm, add and relu. Native's
    relu mask is taken from our output (check_parity runs ours first): a sum within rounding of
    zero may land on either side, and a flipped mask moves a whole gradient entry."""
    shape, training = args
    x, stats, params, count = _batch_norm_inputs(data, dtype, args, affine)
    r = data.draw(tensors(shape, dtype)) if residual else None
    mask = {}

    def ours(x, mean, var, w, b, r=None):
        out = F.batch_norm_relu(x, mean, var, w, b, training=training, residual=r)
        mask["kept"] = ~(out.detach() <= 0)  # relu's backward keeps NaN outputs' gradients too
        return (out,) + tuple(s for s in (mean, var) if s is not None)

    def native(x, mean, var, w, b, r=None):
        z = NF.batch_norm(x, mean, var, w, b, training=training)
        z = z if r is None else z + r
        return (torch.where(mask["kept"], z, 0),) + tuple(s for s in (mean, var) if s is not None)

    check_parity(ours, native, [x, *stats, *params] + ([r] if residual else []), terms=count,
                 grad_terms=_batch_norm_grad_terms(x, stats, params, count, training, 1e-5))


# ---------------------------------------------------------------- layer_norm, dropout, stochastic_depth

@fuzzes("layer_norm")
@fuzzed
@fuzz()
@given(data=st.data(), dtype=dtypes, shape=shapes(1, 4, POSITIVE_SIDES | st.sampled_from([0, 16, 96])),
       affine=st.sampled_from(["none", "weight", "both"]), eps=st.sampled_from([1e-5, 1e-3]))
def test_layer_norm(examples, data, dtype, shape, affine, eps):
    """Output and the input/weight/bias gradients, normalized over 1 or more trailing dims."""
    k = data.draw(st.integers(1, min(2, len(shape))))
    normalized = shape[len(shape) - k:]
    x = data.draw(tensors(shape, dtype))
    params = [data.draw(tensors(normalized, dtype, specials=False, low=lo, high=hi))
              if n < {"none": 0, "weight": 1, "both": 2}[affine] else None
              for n, (lo, hi) in enumerate(((0.5, 1.5), (-1.0, 1.0)))]
    row = max(1, math.prod(normalized))
    rows = max(1, math.prod(shape) // row)
    # The input gradient subtracts terms that nearly cancel, scaled by rstd (as batch_norm's).
    built = x.build().detach().double().reshape(-1, row) if math.prod(shape) else None
    rstd = (built.var(1, unbiased=False) + eps).rsqrt() if built is not None else None
    scale = rstd[rstd.isfinite()].max().item() if rstd is not None and rstd.isfinite().any() else 1.0
    check_parity(lambda x, w, b: F.layer_norm(x, normalized, w, b, eps),
                 lambda x, w, b: NF.layer_norm(x, normalized, w, b, eps), [x, *params],
                 terms=row, grad_terms=max(row, rows) * max(1.0, scale))


# ---------------------------------------------------------------- softmax, log_softmax, attention

@fuzzes("softmax", "log_softmax")
@fuzzed
@fuzz()
@given(data=st.data(), dtype=dtypes, shape=shapes(0, 4, POSITIVE_SIDES | st.sampled_from([0, 40, 197])),
       log=st.booleans())
def test_softmax(examples, data, dtype, shape, log):
    """Any dim (rows and columns), every layout, NaN/+-Inf entries; the gradient from the output."""
    rank = max(len(shape), 1)
    dim = data.draw(st.integers(-rank, rank - 1))
    x = data.draw(tensors(shape, dtype))
    ours, native = (F.log_softmax, NF.log_softmax) if log else (F.softmax, NF.softmax)
    n = shape[dim] if shape else 1
    check_parity(lambda x: ours(x, dim), lambda x: native(x, dim), [x], terms=n, grad_terms=n)


@fuzzes("scaled_dot_product_attention")
@fuzzed
@fuzz()
@given(data=st.data(), dtype=dtypes, batch=shapes(0, 2, st.sampled_from([1, 2, 3])),
       sizes=st.tuples(*[st.sampled_from([0, 1, 3, 7, 17])] * 2, *[st.sampled_from([1, 4, 8])] * 2),
       kind=st.sampled_from(["none", "bool", "additive", "causal"]), scale=st.sampled_from([None, 0.5]))
def test_scaled_dot_product_attention(examples, data, dtype, batch, sizes, kind, scale):
    """Shapes with L != S and empty sequences, every layout, key/value broadcast over a batch dim,
    bool (with fully masked rows) and additive masks, causal, scale. Finite values only: which
    NaN a masked score yields is not something native specifies."""
    L, S, E, Ev = sizes
    kv_batch = data.draw(broadcastable_to(batch)) if batch else ()
    kv_batch = (1,) * (len(batch) - len(kv_batch)) + kv_batch
    q = data.draw(tensors(batch + (L, E), dtype, specials=False))
    k = data.draw(tensors(kv_batch + (S, E), dtype, specials=False))
    v = data.draw(tensors(kv_batch + (S, Ev), dtype, specials=False))
    mask_shape = data.draw(broadcastable_to(batch + (L, S)))
    mask_shape = (1,) * (2 - len(mask_shape)) + mask_shape  # native wants (L, S) at least
    options = {"is_causal": kind == "causal", "scale": scale}
    if kind == "bool":
        g = torch.Generator().manual_seed(data.draw(seeds()))
        options["attn_mask"] = torch.rand(mask_shape, generator=g) > 0.4
    args = [q, k, v]
    if kind == "additive":
        args.append(data.draw(tensors(mask_shape, dtype, specials=False)))
    group = math.prod(batch) // max(1, math.prod(kv_batch))
    check_parity(lambda *a: F.scaled_dot_product_attention(*a, **options),
                 lambda *a: NF.scaled_dot_product_attention(*a, **options), args,
                 terms=max(S, E, 1), grad_terms=max(L * group, S, E, 1) * 4)


def _seeded(fn, seed):
    def call(*args):
        torch.manual_seed(seed)
        return fn(*args)
    return call


@fuzzes("dropout")
@fuzzed
@fuzz()
@given(data=st.data(), dtype=dtypes, shape=shapes(0, 4), p=st.sampled_from([0.0, 0.1, 0.5, 0.77, 1.0]),
       training=st.booleans(), seed=seeds())
def test_dropout(examples, data, dtype, shape, p, training, seed):
    """The same seed: native's output and gradient (the mask is native's draw, bit for bit)."""
    x = data.draw(tensors(shape, dtype))
    check_parity(_seeded(lambda x: F.dropout(x, p, training), seed),
                 _seeded(lambda x: NF.dropout(x, p, training), seed), [x])


@fuzzes("stochastic_depth")
@fuzzed
@fuzz()
@given(data=st.data(), dtype=dtypes, shape=shapes(1, 4), p=st.sampled_from([0.0, 0.2, 0.5, 1.0]),
       mode=st.sampled_from(["row", "batch"]), training=st.booleans(), seed=seeds())
def test_stochastic_depth(examples, data, dtype, shape, p, mode, training, seed):
    x = data.draw(tensors(shape, dtype))
    check_parity(_seeded(lambda x: F.stochastic_depth(x, p, mode, training), seed),
                 _seeded(lambda x: torchvision.ops.stochastic_depth(x, p, mode, training), seed), [x])


def _window_on_padding(size, kernel, stride, pad, dilation, ceil_mode):
    """Whether some pooling window along one dim has no element inside the input."""
    out = (size + 2 * pad - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return any(not any(0 <= o * stride - pad + j * dilation < size for j in range(kernel)) for o in range(out))


@st.composite
def max_pool_args(draw):
    """(input shape, kwargs) for a valid pooling: padding at most half the kernel, an output of
    at least one element."""
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    dilation = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    stride = draw(st.sampled_from([None, 1, 2, 3, (1, 2), (3, 1)]))
    sizes = [max(1, d * (k - 1) + 1 - 2 * p) + draw(st.integers(0, 7))
             for k, p, d in zip(kernel, padding, dilation)]
    ceil_mode = draw(st.booleans())
    strides = kernel if stride is None else (stride, stride) if isinstance(stride, int) else stride
    # A dilated window that falls wholly on padding has no input element: torchext gives it -inf
    # and index -1, native an index past the window (its backward then writes the gradient to an
    # unrelated element). Not drawn; test_max_pool2d_window_on_padding pins torchext's answer.
    assume(not any(_window_on_padding(*dims, ceil_mode) for dims in zip(sizes, kernel, strides, padding, dilation)))
    batch = draw(st.sampled_from([(0,), (1,), (2,), ()]))
    kwargs = dict(kernel_size=kernel if kernel[0] != kernel[1] or draw(st.booleans()) else kernel[0],
                  stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode,
                  return_indices=draw(st.booleans()))
    return (*batch, draw(CHANNELS), *sizes), kwargs


@fuzzes("max_pool2d")
@fuzzed
@fuzz()
@given(data=st.data(), dtype=dtypes, args=max_pool_args())
def test_max_pool2d(examples, data, dtype, args):
    """Values, indices (exactly: the first maximum, NaN wins) and the input gradient."""
    shape, kwargs = args
    x = data.draw(tensors(shape, dtype))
    check_parity(lambda t: F.max_pool2d(t, **kwargs), lambda t: NF.max_pool2d(t, **kwargs), [x],
                 grad_terms=16)


@fuzzed
@fuzz()
@given(data=st.data(), dtype=dtypes, batch=st.sampled_from([(0,), (1,), (2,), ()]),
       sizes=st.tuples(POSITIVE_SIDES, POSITIVE_SIDES), channels=CHANNELS,
       out=st.tuples(st.sampled_from([None, 0, 1, 2, 3, 4, 7, 9, 14]), st.sampled_from([None, 0, 1, 2, 3, 5, 8])),
       form=st.sampled_from(["int", "pair"]))
@fuzzes("adaptive_avg_pool2d")
def test_adaptive_avg_pool2d(examples, data, dtype, batch, sizes, channels, out, form):
    """Output sizes below, equal to and above the input's (overlapping ranges), 0 and None."""
    x = data.draw(tensors((*batch, channels, *sizes), dtype))
    output_size = (out[0] if out[0] is not None else 2) if form == "int" else out
    terms = math.prod(sizes)
    check_parity(lambda t: F.adaptive_avg_pool2d(t, output_size),
                 lambda t: NF.adaptive_avg_pool2d(t, output_size), [x], terms=terms)


# ---------------------------------------------------------------- structural ops (issue 14)

@fuzzes("div")
@fuzzed
@fuzz()
@given(operands=binary_operands(), number_first=st.booleans())
def test_div(examples, operands, number_first):
    """tensor / tensor (broadcast, promoted), tensor / number and number / tensor, zeros and
    NaN/Inf included (0/0, x/0, inf/inf)."""
    a, b = operands
    if number_first and not isinstance(b, TensorSpec):
        check_parity(lambda t: F.div(b, t), lambda t: b / t, [a])
    else:
        check_parity(F.div, torch.div, [a, b])


@fuzzes("pow")
@fuzzed
@fuzz()
@given(data=st.data(), dtype=dtypes, mixed=st.booleans(), positive=st.booleans())
def test_pow_tensor_exponent(examples, data, dtype, mixed, positive):
    """a ** b, both tensors: broadcasting, promotion, negative bases (NaN for fractional
    exponents), zeros and NaN/Inf, with native's gradients at a == 0."""
    sa, sb = data.draw(broadcastable_shapes())
    low, high = (0.0, 2.0) if positive else (None, None)
    a = data.draw(tensors(sa, dtype, low=low, high=high))
    b = data.draw(tensors(sb, _other_dtype(dtype) if mixed else dtype,
                          low=-2.0 if positive else None, high=2.0 if positive else None))
    check_parity(F.pow, torch.pow, [a, b], grad_terms=8)


@fuzzes("mean")
@fuzzed
@fuzz()
@given(data=st.data(), dtype=dtypes, keepdim=st.booleans(), out_dtype=st.sampled_from([None, *DTYPES]))
def test_mean(examples, data, dtype, keepdim, out_dtype):
    shape = data.draw(shapes(0, 4))
    x = data.draw(tensors(shape, dtype))
    nd = len(shape)
    form = data.draw(st.sampled_from(["all", "one", "list"]))
    if form == "all" or nd == 0:
        dim = None
    elif form == "one":
        dim = data.draw(st.integers(-nd, nd - 1))
    else:
        dim = data.draw(st.lists(st.integers(0, nd - 1), unique=True, max_size=nd))
    reduced = range(nd) if dim is None or dim == [] else [dim] if isinstance(dim, int) else dim
    terms = math.prod(shape[d] for d in reduced)
    check_parity(lambda t: F.mean(t, dim, keepdim, dtype=out_dtype),
                 lambda t: torch.mean(t, dim, keepdim, dtype=out_dtype), [x],
                 terms=terms, dtype=out_dtype or dtype)


@st.composite
def avg_pool_args(draw):
    """(input shape, kwargs) for a valid average pooling: padding at most half the kernel, an
    output of at least one element, every option."""
    kernel = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    padding = tuple(draw(st.integers(0, k // 2)) for k in kernel)
    stride = draw(st.sampled_from([None, 1, 2, 3, (1, 2), (3, 1)]))
    sizes = [max(1, k - 2 * p) + draw(st.integers(0, 7)) for k, p in zip(kernel, padding)]
    batch = draw(st.sampled_from([(0,), (1,), (2,), ()]))
    kwargs = dict(kernel_size=kernel if kernel[0] != kernel[1] or draw(st.booleans()) else kernel[0],
                  stride=stride, padding=padding, ceil_mode=draw(st.booleans()),
                  count_include_pad=draw(st.booleans()),
                  divisor_override=draw(st.sampled_from([None, None, 1, 3, -2])))
    return (*batch, draw(CHANNELS), *sizes), kwargs


@fuzzes("avg_pool2d")
@fuzzed
@fuzz()
@given(data=st.data(), dtype=dtypes, args=avg_pool_args())
def test_avg_pool2d(examples, data, dtype, args):
    shape, kwargs = args
    x = data.draw(tensors(shape, dtype))
    check_parity(lambda t: F.avg_pool2d(t, **kwargs), lambda t: NF.avg_pool2d(t, **kwargs), [x],
                 terms=16, grad_terms=16)


@fuzzes("cat")
@fuzzed
@fuzz()
@given(data=st.data(), dtype=dtypes, count=st.integers(1, 4), mixed=st.booleans(), legacy=st.booleans())
def test_cat(examples, data, dtype, count, mixed, legacy):
    """Any dim (negative too), sizes 0 along it, every layout, float32/float64 promotion and the
    legacy 1-D empty tensors native skips."""
    shape = data.draw(shapes(1, 4))
    nd = len(shape)
    dim = data.draw(st.integers(-nd, nd - 1))
    specs = []
    for i in range(count):
        own = list(shape)
        own[dim] = data.draw(SIDES)
        specs.append(data.draw(tensors(own, _other_dtype(dtype) if mixed and i % 2 else dtype)))
    if legacy:
        specs.insert(data.draw(st.integers(0, count)), data.draw(tensors((0,), dtype)))
    check_parity(lambda *ts: F.cat(list(ts), dim), lambda *ts: torch.cat(list(ts), dim), specs)



@fuzzes("split", "chunk")
@fuzzed
@fuzz()
@given(data=st.data(), dtype=dtypes, by_sizes=st.booleans())
def test_split_and_chunk(examples, data, dtype, by_sizes):
    """Any dim, any layout, pieces of 0, sizes that do not divide the dim, more chunks than
    elements; each piece's gradient flows back through cat."""
    shape = data.draw(shapes(1, 4))
    nd = len(shape)
    dim = data.draw(st.integers(-nd, nd - 1))
    spec = data.draw(tensors(shape, dtype))
    length = shape[dim]
    if by_sizes:
        cuts = sorted(data.draw(st.lists(st.integers(0, length), max_size=3)))
        sizes = [b - a for a, b in zip([0] + cuts, cuts + [length])]
        check_parity(lambda t: F.split(t, sizes, dim), lambda t: torch.split(t, sizes, dim), [spec])
    chunks = data.draw(st.integers(1, 6))
    check_parity(lambda t: F.chunk(t, chunks, dim), lambda t: torch.chunk(t, chunks, dim), [spec])
    if length:
        size = data.draw(st.integers(1, length + 1))
        check_parity(lambda t: F.split(t, size, dim), lambda t: torch.split(t, size, dim), [spec])

# ---------------------------------------------------------------- found by fuzzing, pinned

def test_relu_gradient_passes_through_nan():
    """Native's relu backward zeroes the gradient where result <= 0, so a NaN result passes it."""
    x = torch.tensor([float("nan"), 1.0, -1.0, 0.0], requires_grad=True)  # shared: grads are not accumulated
    zeros = torch.zeros(4)
    check_parity(F.relu, torch.relu, [x])
    check_parity(F.add_relu, lambda a, b: torch.relu(a + b), [x, zeros])


def test_max_pool2d_window_on_padding():
    """A window wholly on padding (width 1, padding 1, dilation 2: columns -1 and 1) pools
    nothing: -inf with index -1, and no gradient flows from it."""
    x = torch.randn(1, 1, 3, 1, requires_grad=True)
    out, idx = F.max_pool2d(x, (1, 2), padding=(0, 1), dilation=(1, 2), return_indices=True)
    assert torch.equal(out, torch.full((1, 1, 3, 1), -math.inf)) and torch.equal(idx, torch.full((1, 1, 3, 1), -1))
    out.sum().backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


def test_batch_norm_strided_parameters():
    """A strided running_var (eval) or weight (training): d out/d x as computed by autograd from
    the formula (native 2.14's CPU backward reads both as if contiguous and gets these wrong)."""
    storage = torch.tensor([1.25, 9.0, 0.64, 7.0], dtype=torch.float64)
    x = torch.tensor([[1.0, 2.0], [3.0, -1.0], [0.5, 0.25]], dtype=torch.float64)
    grad_out = torch.tensor([[1.0, 2.0], [3.0, -1.0], [-2.0, 0.5]], dtype=torch.float64)
    for training in (False, True):
        a, b = x.clone().requires_grad_(), x.clone().requires_grad_()
        if training:  # batch statistics, strided weight
            out = F.batch_norm(a, None, None, storage[::2], training=True, eps=1e-5)
            mean, var = b.mean(0), b.var(0, unbiased=False)
            expected = (b - mean) / (var + 1e-5).sqrt() * storage[::2]
        else:  # running statistics: a strided running_var
            out = F.batch_norm(a, torch.zeros(2, dtype=torch.float64), storage[::2], training=False, eps=1e-5)
            expected = b / (storage[::2] + 1e-5).sqrt()
        torch.testing.assert_close(out, expected)
        torch.testing.assert_close(torch.autograd.grad(out, a, grad_out)[0],
                                   torch.autograd.grad(expected, b, grad_out)[0])


def test_bce_target_gradient_at_infinite_logits():
    """d loss/d target = -x without pos_weight: infinite, not NaN, at x = -Inf."""
    logits = torch.tensor([-float("inf"), float("inf"), 0.5], dtype=torch.float64)
    target = TensorSpec((3,), torch.float64, low=0.0, high=1.0)
    for pos_weight in (None, torch.tensor([1.0, 2.0, 0.5], dtype=torch.float64)):
        check_parity(lambda t: F.binary_cross_entropy_with_logits(logits, t, pos_weight=pos_weight, reduction="none"),
                     lambda t: NF.binary_cross_entropy_with_logits(logits, t, pos_weight=pos_weight, reduction="none"),
                     [target])


def test_every_table_op_is_fuzzed():
    """A new op table entry needs its fuzz test here."""
    assert set(BY_NAME) <= set(FUZZED), f"not fuzzed: {sorted(set(BY_NAME) - set(FUZZED))}"
