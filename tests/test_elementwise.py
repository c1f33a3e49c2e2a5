"""add, sub, mul (tensor-tensor and scalar forms), rsub and pow: parity with native, gradients to
second order, promotion, special values, errors, opcheck, and tutorial programs 2 and 4."""
import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck

import torchext
from torchext import functional as F
from helpers import assert_close, compare_with_native

# (self shape, other shape): broadcasting both ways, 0-dim, empty, size-1 and odd sizes.
SHAPE_PAIRS = [
    ((3, 1, 5), (4, 5)), ((4, 5), (3, 1, 5)), ((), (3, 4)), ((3, 4), ()), ((), ()), ((0, 3), (3,)),
    ((0, 3), (1, 3)), ((1,), (7,)), ((7,), (7,)), ((2, 3, 17, 19), (17, 1)), ((6, 1), (1, 7)),
    ((2, 1, 4, 1), (3, 1, 5)), ((1, 1), (1, 1)), ((1, 64, 9, 9), (64, 1, 1)), ((333, 257), (333, 257)),
]

BINARY = {
    "add": (F.add, torch.add, {}),
    "add_alpha": (F.add, torch.add, {"alpha": 2.5}),
    "sub": (F.sub, torch.sub, {}),
    "sub_alpha": (F.sub, torch.sub, {"alpha": -3}),
    "mul": (F.mul, torch.mul, {}),
    "rsub": (F.rsub, torch.rsub, {}),
    "rsub_alpha": (F.rsub, torch.rsub, {"alpha": 0.5}),
}


def _binary(name):
    ours, native, kwargs = BINARY[name]
    return (lambda a, b: ours(a, b, **kwargs)), (lambda a, b: native(a, b, **kwargs))


@pytest.mark.parametrize("name", list(BINARY))
@pytest.mark.parametrize("shapes", SHAPE_PAIRS, ids=str)
def test_binary_parity(device, name, shapes):
    ours, native = _binary(name)
    a = torch.randn(shapes[0], device=device, requires_grad=True)
    b = torch.randn(shapes[1], device=device, requires_grad=True)
    compare_with_native(ours, native, [a, b])


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_parity_float64_one_side_needs_grad(device, name):
    ours, native = _binary(name)
    a = torch.randn(3, 1, 5, device=device, dtype=torch.float64)
    b = torch.randn(4, 5, device=device, dtype=torch.float64, requires_grad=True)
    compare_with_native(ours, native, [a, b])
    compare_with_native(ours, native, [b.detach().requires_grad_(), a])


@pytest.mark.parametrize("name", list(BINARY))
def test_binary_non_contiguous(device, name):
    ours, native = _binary(name)
    base = torch.randn(6, 10, device=device)
    cases = [
        (base.t(), torch.randn(10, 6, device=device)),                   # transposed
        (base[:, ::2], torch.randn(6, 5, device=device).t().t()),         # strided columns
        (base[::2, 1:8], torch.randn(7, device=device)),                  # sliced + broadcast row
        (torch.randn(6, 1, device=device).expand(6, 10), base.t().t()),   # expanded (stride 0)
        (torch.randn(2, 3, 4, 5, device=device).permute(0, 2, 3, 1),      # permuted vs channels-last-like
         torch.randn(2, 3, 4, 5, device=device).permute(0, 2, 3, 1).contiguous()),
    ]
    for a, b in cases:
        compare_with_native(ours, native, [a.detach().requires_grad_(), b.detach().requires_grad_()])


def test_large_parallel_parity(device):
    a = torch.randn(1000, 1003, device=device)
    b = torch.randn(1003, device=device)
    assert_close(F.add(a, b, alpha=0.3), torch.add(a, b, alpha=0.3))
    assert_close(F.mul(a.t(), a.t()), a.t() * a.t())
    assert_close(F.sub(b, a), b - a)


@pytest.mark.parametrize("threads", [1, 3])
def test_parallel_chunks_split_rows_exactly(device, threads):
    """Chunks of the flat output index start and end mid-row; float64 add and mul are exact
    operations, so every element must equal native bit for bit."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        a = torch.randn(3, 33, 1001, device=device, dtype=torch.float64)
        cases = [(a, torch.randn(33, 1, device=device, dtype=torch.float64)),
                 (a.transpose(0, 2), torch.randn(1001, 1, 3, device=device, dtype=torch.float64)),
                 (a[:, ::2, 3:], torch.randn(3, 1, 998, device=device, dtype=torch.float64)),
                 (torch.randn(5, 1, 7, 1, device=device, dtype=torch.float64),
                  torch.randn(1, 111, 1, 97, device=device, dtype=torch.float64))]
        for x, y in cases:
            assert torch.equal(F.add(x, y), x + y) and torch.equal(F.mul(y, x), y * x)
            assert torch.equal(F.sub(x, 1.5), x - 1.5)
    finally:
        torch.set_num_threads(before)


def test_output_is_contiguous(device):
    a = torch.randn(5, 7, device=device).t()
    assert F.mul(a, 2.0).is_contiguous() and F.add(a, a).is_contiguous()


# Promotion: (self dtype, self shape, other dtype, other shape).
PROMOTIONS = [
    (torch.float32, (3, 4), torch.float64, (3, 4)),
    (torch.float64, (3, 4), torch.float32, (4,)),
    (torch.float32, (3, 4), torch.float64, ()),   # a 0-dim tensor does not promote: float32
    (torch.float64, (), torch.float32, (3, 4)),
    (torch.float32, (), torch.float64, ()),       # both 0-dim: float64
]


@pytest.mark.parametrize("name", ["add_alpha", "sub", "mul"])
@pytest.mark.parametrize("promotion", PROMOTIONS, ids=str)
def test_mixed_dtype_promotion(device, name, promotion):
    ours, native = _binary(name)
    da, sa, db, sb = promotion
    a = torch.randn(sa, device=device, dtype=da, requires_grad=True)
    b = torch.randn(sb, device=device, dtype=db, requires_grad=True)
    got, want = ours(a, b), native(a, b)
    assert got.dtype == want.dtype
    compare_with_native(ours, native, [a, b], dtype=torch.float32)
    ga, gb = torch.autograd.grad(ours(a, b).sum(), [a, b])
    assert ga.dtype == da and gb.dtype == db


# Scalar forms, each against the same call on native torch.
SCALAR_CALLS = [
    ("add(x, 2)", lambda m, x: m.add(x, 2)),
    ("add(x, 2.5, alpha=3)", lambda m, x: m.add(x, 2.5, alpha=3)),
    ("add(2, x)", lambda m, x: m.add(2, x)),
    ("add(2, x, alpha=-1.5)", lambda m, x: m.add(2, x, alpha=-1.5)),
    ("sub(x, 2)", lambda m, x: m.sub(x, 2)),
    ("sub(x, 0.1, alpha=4)", lambda m, x: m.sub(x, 0.1, alpha=4)),
    ("sub(2, x)", lambda m, x: m.sub(2, x)),
    ("sub(2, x, alpha=2)", lambda m, x: m.sub(2, x, alpha=2)),
    ("rsub(x, 3)", lambda m, x: m.rsub(x, 3)),
    ("rsub(x, 3, alpha=2)", lambda m, x: m.rsub(x, 3, alpha=2)),
    ("mul(x, 2)", lambda m, x: m.mul(x, 2)),
    ("mul(x, -0.3)", lambda m, x: m.mul(x, -0.3)),
    ("mul(2, x)", lambda m, x: m.mul(2, x)),
    ("mul(x, True)", lambda m, x: m.mul(x, True)),
]


@pytest.mark.parametrize("call", SCALAR_CALLS, ids=[c[0] for c in SCALAR_CALLS])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("shape", [(), (0,), (7,), (3, 5)])
def test_scalar_forms_parity(device, call, dtype, shape):
    _, fn = call
    x = torch.randn(shape, device=device, dtype=dtype, requires_grad=True)
    got = fn(F, x)
    assert got.dtype == dtype  # a Python number never promotes
    compare_with_native(lambda t: fn(F, t), lambda t: fn(torch, t), [x])


def test_scalar_forms_non_contiguous(device):
    x = torch.randn(6, 9, device=device)[:, ::2].t().requires_grad_()
    for _, fn in SCALAR_CALLS:
        compare_with_native(lambda t: fn(F, t), lambda t: fn(torch, t), [x])


POW_EXPONENTS = [0, 1, 2, 3, 0.5, -0.5, -1, -2, 2.5, -1.3, 1 / 3, 7, True, False]


@pytest.mark.parametrize("exponent", POW_EXPONENTS, ids=str)
@pytest.mark.parametrize("shape", [(), (0,), (7,), (3, 5), (2, 3, 17)])
def test_pow_parity(device, exponent, shape):
    x = (torch.rand(shape, device=device) + 0.1).requires_grad_()
    compare_with_native(lambda t: F.pow(t, exponent), lambda t: torch.pow(t, exponent), [x])


def test_pow_non_contiguous(device):
    x = (torch.rand(5, 8, device=device) + 0.1).t().requires_grad_()
    for e in (2, 0.5, -1, 2.5):
        compare_with_native(lambda t: F.pow(t, e), lambda t: torch.pow(t, e), [x])


SPECIAL = [0.0, -0.0, -2.0, 2.0, float("nan"), float("inf"), -float("inf"), 1e-30, 3.5]


@pytest.mark.parametrize("exponent", [0, 1, 2, 3, 0.5, -0.5, -1, -2, -1.5, 0.3, 2.5, 4], ids=str)
def test_pow_special_values_match_native(device, exponent):
    for dtype in (torch.float32, torch.float64):
        x = torch.tensor(SPECIAL, device=device, dtype=dtype)
        torch.testing.assert_close(F.pow(x, exponent), torch.pow(x, exponent), equal_nan=True)


def test_pow_edge_cases(device):
    z = torch.tensor([0.0], device=device)
    assert F.pow(z, 0).item() == 1.0                        # 0**0 = 1
    assert F.pow(torch.tensor([float("nan")], device=device), 0).item() == 1.0
    assert F.pow(z, -1).item() == float("inf")              # 0**-1 = inf
    assert F.pow(z, -1.5).item() == float("inf")
    assert torch.isnan(F.pow(torch.tensor([-2.0], device=device), 0.5)).all()  # (-2)**0.5 = nan
    assert torch.isnan(F.pow(torch.tensor([-2.0], device=device), 1.5)).all()
    assert F.pow(torch.tensor([-2.0], device=device), 3).item() == -8.0


def test_pow_zero_exponent_gradient_is_zero(device):
    x = torch.tensor([0.0, 2.0, -1.0], device=device, requires_grad=True)
    (g,) = torch.autograd.grad(F.pow(x, 0).sum(), x)
    assert g.tolist() == [0.0, 0.0, 0.0]


def test_nan_inf_propagate(device):
    vals = torch.tensor([float("nan"), float("inf"), -float("inf"), 1.0, 0.0], device=device)
    other = torch.tensor([1.0, float("inf"), float("inf"), float("nan"), -0.0], device=device)
    for ours, native in (_binary("add"), _binary("sub_alpha"), _binary("mul")):
        torch.testing.assert_close(ours(vals, other), native(vals, other), equal_nan=True)
    torch.testing.assert_close(F.mul(vals, 0.0), vals * 0.0, equal_nan=True)
    torch.testing.assert_close(F.add(vals, float("inf")), vals + float("inf"), equal_nan=True)


# gradcheck and gradgradcheck (float64) for every op and option.
def _f64(shape, device, positive=False):
    t = torch.rand(shape, device=device, dtype=torch.float64) + 0.5 if positive else \
        torch.randn(shape, device=device, dtype=torch.float64)
    return t.requires_grad_()


@pytest.mark.parametrize("name", list(BINARY))
@pytest.mark.parametrize("shapes", [((3, 1, 4), (2, 4)), ((2, 4), (3, 1, 4)), ((), (2, 3)), ((2, 3), ()),
                                    ((2, 3), (2, 3))], ids=str)
def test_binary_gradcheck(device, name, shapes):
    ours, _ = _binary(name)
    a, b = _f64(shapes[0], device), _f64(shapes[1], device)
    assert gradcheck(ours, (a, b))
    assert gradgradcheck(ours, (a, b))


@pytest.mark.parametrize("call", SCALAR_CALLS, ids=[c[0] for c in SCALAR_CALLS])
def test_scalar_forms_gradcheck(device, call):
    _, fn = call
    x = _f64((2, 3), device)
    assert gradcheck(lambda t: fn(F, t), (x,))
    assert gradgradcheck(lambda t: fn(F, t), (x,))


@pytest.mark.parametrize("exponent", POW_EXPONENTS, ids=str)
def test_pow_gradcheck(device, exponent):
    x = _f64((3, 4), device, positive=True)
    assert gradcheck(lambda t: F.pow(t, exponent), (x,))
    assert gradgradcheck(lambda t: F.pow(t, exponent), (x,))


def test_pow_gradcheck_negative_base_integer_exponent(device):
    x = _f64((3, 4), device)
    for e in (2, 3, -1, 4):
        assert gradgradcheck(lambda t: F.pow(t, e), (x + 0.2 * x.sign(),))


def test_composite_expression_third_order(device):
    a, b = _f64((3,), device), _f64((2, 3), device)
    f = lambda a, b: F.sub(F.mul(3, F.pow(a, 3)), F.mul(F.pow(b, 2), a))  # noqa: E731
    assert gradgradcheck(f, (a, b))
    (ga,) = torch.autograd.grad(f(a, b).sum(), a, create_graph=True)
    (gga,) = torch.autograd.grad(ga.sum(), a, create_graph=True)
    (ggga,) = torch.autograd.grad(gga.sum(), a)
    # d3/da3 of 3a^3 summed over the 2 broadcast rows (b^2 a is linear in a)
    torch.testing.assert_close(ggga, torch.full_like(a, 36.0))


# Errors.
def test_errors(device):
    f32 = torch.ones(3, device=device)
    ints = torch.ones(3, dtype=torch.int64, device=device)
    with pytest.raises(RuntimeError, match=r"torchext.add: expected self to be .* but got Long"):
        torchext.ops.add(ints, f32)
    with pytest.raises(RuntimeError, match=r"torchext.mul: expected other to be .* but got Bool"):
        torchext.ops.mul(f32, torch.ones(3, dtype=torch.bool, device=device))
    with pytest.raises(RuntimeError, match=r"torchext.sub: expected self to be .* but got ComplexFloat"):
        torchext.ops.sub(torch.ones(3, dtype=torch.complex64, device=device), f32)
    with pytest.raises(RuntimeError, match=r"torchext.add: the size of tensor self \(3\) must match the size "
                                           r"of tensor other \(4\) at non-singleton dimension 1"):
        F.add(torch.ones(2, 3, device=device), torch.ones(2, 4, device=device))
    with pytest.raises(RuntimeError, match=r"torchext.mul: the size of tensor self \(3\) must match the size "
                                           r"of tensor other \(4\) at non-singleton dimension 1"):
        F.mul(torch.ones(3, device=device), torch.ones(2, 4, device=device))
    with pytest.raises(RuntimeError, match=r"torchext.add_scalar: expected self to be .* but got Int"):
        torchext.ops.add_scalar(torch.ones(3, dtype=torch.int32, device=device), 1)
    with pytest.raises(RuntimeError, match=r"torchext.pow_scalar: expected self to be .* but got Long"):
        torchext.ops.pow_scalar(ints, 2)
    with pytest.raises(RuntimeError, match=r"torchext.mul_scalar: expected other to be a real number"):
        torchext.ops.mul_scalar(f32, 1j)
    with pytest.raises(RuntimeError, match=r"torchext.add: expected alpha to be a real number"):
        torchext.ops.add(f32, f32, 1j)
    with pytest.raises(TypeError, match=r"torchext.pow: only a Tensor base"):
        F.pow(2, f32)
    with pytest.raises(TypeError, match=r"torchext.add: expected input or other to be a Tensor"):
        F.add(2, 3)
    with pytest.raises(TypeError, match=r"torchext.mul: expected other to be a Tensor or a real number"):
        F.mul(f32, 1j)
    with pytest.raises(TypeError, match=r"torchext.sub: expected other to be a Tensor or a real number"):
        F.sub(f32, "1")


@pytest.mark.skipif(not torch.cuda.is_available() or not torchext.HAS_CUDA_KERNELS,
                    reason="needs a CUDA device and torchext CUDA kernels")
def test_devices_cuda_with_cpu_scalar():
    a = torch.randn(3, device="cuda")
    torch.testing.assert_close(F.add(a, torch.tensor(2.0)), a + 2.0)
    with pytest.raises(RuntimeError, match=r"torchext.add: expected self and other on the same device"):
        F.add(a, torch.ones(3))


# opcheck: the forward ops (the backward of this family is built from the same ops).
OPCHECK = [
    ("add", lambda d: (torch.randn(3, 1, 5, device=d), torch.randn(4, 5, device=d)), {"alpha": 2}),
    ("add", lambda d: (torch.randn(3, 5, device=d), torch.tensor(2.0, dtype=torch.float64, device=d)), {}),
    ("add", lambda d: (torch.randn(0, 3, device=d), torch.randn(3, device=d)), {}),
    ("sub", lambda d: (torch.randn(5, 3, device=d).t(), torch.randn(5, device=d)), {"alpha": -1.5}),
    ("sub", lambda d: (torch.randn(4, device=d, dtype=torch.float64), torch.randn(4, device=d)), {}),
    ("mul", lambda d: (torch.randn(2, 1, 4, device=d), torch.randn(3, 1, device=d)), {}),
    ("mul", lambda d: (torch.randn((), device=d), torch.randn((), device=d)), {}),
    ("add_scalar", lambda d: (torch.randn(5, 3, device=d).t(), 2.5), {"alpha": 3}),
    ("rsub_scalar", lambda d: (torch.randn(3, 5, device=d), 2), {"alpha": 0.5}),
    ("mul_scalar", lambda d: (torch.randn(3, 5, device=d, dtype=torch.float64), -2), {}),
    ("pow_scalar", lambda d: (torch.rand(3, 5, device=d), 2.5), {}),
    ("pow_scalar", lambda d: (torch.rand(3, 5, device=d), 2), {}),
    ("pow_scalar", lambda d: (torch.rand(3, 5, device=d), 0), {}),
]


@pytest.mark.parametrize("op,args,kwargs", OPCHECK, ids=[f"{o}-{i}" for i, (o, _, _) in enumerate(OPCHECK)])
def test_opcheck(device, op, args, kwargs):
    torch.library.opcheck(getattr(torch.ops.torchext, op).default, args(device), kwargs)


def test_torch_compile_fullgraph(device):
    def f(a, b):
        return F.sub(F.mul(3, F.pow(a, 3)), F.add(b, 1, alpha=2))
    a = torch.randn(4, 5, device=device, requires_grad=True)
    b = torch.randn(5, device=device, requires_grad=True)
    compiled = torch.compile(f, backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(compiled(a, b), f(a, b))
    ga = torch.autograd.grad(compiled(a, b).sum(), [a, b])
    gb = torch.autograd.grad(f(a, b).sum(), [a, b])
    for x, y in zip(ga, gb):
        torch.testing.assert_close(x, y)


# Tutorial programs 2 and 4 written on torchext.functional: equal to native exactly.
def _program2(m, pow_, external_grad):
    a = torch.tensor([2., 3.], requires_grad=True)
    b = torch.tensor([6., 4.], requires_grad=True)
    Q = m.sub(m.mul(3, pow_(a, 3)), pow_(b, 2))
    Q.backward(gradient=external_grad)
    x = torch.tensor([1., 2.], requires_grad=True)
    y = torch.tensor([2., 4.], requires_grad=True)
    z = m.sub(m.mul(6, pow_(x, 2)), m.mul(2, pow_(y, 3)))
    z.backward(torch.tensor([1, 1]))  # an integer external gradient, as in one tutorial variant
    return {"Q": Q, "a.grad": a.grad, "b.grad": b.grad, "9a^2": m.mul(9, pow_(a, 2)),
            "-2b": m.mul(-2, b), "z": z, "x.grad": x.grad, "y.grad": y.grad}


@pytest.mark.parametrize("external_grad", [[1., 1.], [1, 1]], ids=["float", "int"])
def test_program2_equals_native_exactly(external_grad):
    native = _program2(torch, torch.pow, torch.tensor(external_grad))
    ours = _program2(F, F.pow, torch.tensor(external_grad))
    for key in native:
        assert torch.equal(ours[key].detach(), native[key].detach()), key
    assert torch.equal(ours["9a^2"], ours["a.grad"]) and torch.equal(ours["-2b"], ours["b.grad"])
    assert ours["x.grad"].tolist() == [12., 24.] and ours["y.grad"].tolist() == [-24., -96.]
    assert "SubBackward" in type(ours["Q"].grad_fn).__name__


def test_program2_without_requires_grad_raises():
    x, y = torch.tensor([1., 2.]), torch.tensor([2., 4.])
    z = F.sub(F.mul(6, F.pow(x, 2)), F.mul(2, F.pow(y, 3)))
    with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad"):
        z.backward(torch.tensor([1., 1.]))


def _program4(m, pow_):
    inp = torch.eye(4, 5, requires_grad=True)
    out = m.t(pow_(m.add(inp, 1), 2))
    out.backward(torch.ones_like(out), retain_graph=True)
    first = inp.grad.clone()
    out.backward(torch.ones_like(out), retain_graph=True)
    second = inp.grad.clone()
    inp.grad.zero_()
    out.backward(torch.ones_like(out), retain_graph=True)
    after_zero = inp.grad.clone()
    out.backward(torch.ones_like(out))
    with pytest.raises(RuntimeError, match="Trying to backward through the graph a second time"):
        out.backward(torch.ones_like(out))
    return {"out": out.detach(), "first": first, "second": second, "after_zero": after_zero}


def test_program4_equals_native_exactly():
    native = _program4(torch, torch.pow)
    ours = _program4(F, F.pow)
    for key in native:
        assert torch.equal(ours[key], native[key]), key
    assert torch.equal(ours["first"], 2 * (torch.eye(4, 5) + 1))
    assert torch.equal(ours["second"], 2 * ours["first"])
