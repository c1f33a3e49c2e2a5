"""binary_cross_entropy_with_logits: parity with native (reductions, weight and pos_weight
broadcasting, input and target gradients), stability at |logits| ~ 1e4, gradients to second
order, errors, opcheck on the forward and backward ops."""
import pytest
import torch
import torch.nn.functional as NF
from torch.autograd import gradcheck, gradgradcheck

import torchext
from torchext import functional as F
from helpers import assert_close, compare_with_native

REDUCTIONS = ["none", "mean", "sum"]

# (input shape, weight shape or None, pos_weight shape or None)
LAYOUTS = [
    ((3, 4), None, None), ((3, 4), (4,), None), ((3, 4), None, (4,)), ((3, 4), (3, 4), (4,)),
    ((3, 4), (), (1, 4)), ((3, 4), (3, 1), ()), ((5,), (5,), (5,)), ((2, 3, 4), (3, 1), (4,)),
    ((1, 1000), None, None), ((0, 3), (3,), (3,)), ((), None, ()), ((17, 33), (33,), (33,)),
]


def _bce(weight, pos_weight, reduction):
    def ours(x, t):
        return F.binary_cross_entropy_with_logits(x, t, weight=weight, pos_weight=pos_weight, reduction=reduction)

    def native(x, t):
        return NF.binary_cross_entropy_with_logits(x, t, weight=weight, pos_weight=pos_weight, reduction=reduction)
    return ours, native


def _operands(layout, device, dtype=torch.float32):
    shape, wshape, pshape = layout
    x = torch.randn(shape, device=device, dtype=dtype, requires_grad=True)
    t = torch.rand(shape, device=device, dtype=dtype, requires_grad=True)
    w = None if wshape is None else torch.rand(wshape, device=device, dtype=dtype) + 0.1
    p = None if pshape is None else torch.rand(pshape, device=device, dtype=dtype) * 3
    return x, t, w, p


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("layout", LAYOUTS, ids=str)
def test_parity(device, layout, reduction):
    x, t, w, p = _operands(layout, device)
    ours, native = _bce(w, p, reduction)
    if x.numel() == 0 and reduction == "mean":  # the mean of nothing: nan on both sides
        assert torch.isnan(ours(x, t)) and torch.isnan(native(x, t))
        return
    compare_with_native(ours, native, [x, t])
    compare_with_native(ours, native, [x, t.detach()])       # only the input needs grad
    compare_with_native(ours, native, [x.detach(), t])       # only the target needs grad


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_parity_float64_and_non_contiguous(device, reduction):
    x = torch.randn(6, 5, device=device, dtype=torch.float64).t().requires_grad_()
    t = torch.rand(6, 5, device=device, dtype=torch.float64)[:, ::1].t().requires_grad_()
    w = torch.rand(5, 6, device=device, dtype=torch.float64)[:, :1]
    p = torch.rand(12, device=device, dtype=torch.float64)[::2]
    ours, native = _bce(w, p, reduction)
    compare_with_native(ours, native, [x, t])


def test_binary_targets_and_default_reduction(device):
    x = torch.randn(8, 3, device=device, requires_grad=True)
    t = torch.randint(0, 2, (8, 3), device=device).float()
    compare_with_native(F.binary_cross_entropy_with_logits, NF.binary_cross_entropy_with_logits, [x, t])


@pytest.mark.parametrize("reduction", REDUCTIONS)
def test_large_logits_are_finite_and_match_native(device, reduction):
    x = (torch.tensor([[1e4, -1e4, 3e4, -3e4, 50.0, -50.0, 0.0]], device=device)).requires_grad_()
    t = torch.tensor([[0.0, 1.0, 0.3, 0.7, 1.0, 0.0, 0.5]], device=device)
    p = torch.full((7,), 2.5, device=device)
    for pos_weight in (None, p):
        ours, native = _bce(None, pos_weight, reduction)
        out = ours(x, t)
        assert torch.isfinite(out).all()
        compare_with_native(ours, native, [x, t.clone().requires_grad_()])


def test_nan_propagates(device):
    x = torch.tensor([float("nan"), 1.0, float("inf"), -float("inf")], device=device)
    t = torch.tensor([0.5, float("nan"), 0.0, 1.0], device=device)
    torch.testing.assert_close(F.binary_cross_entropy_with_logits(x, t, reduction="none"),
                               NF.binary_cross_entropy_with_logits(x, t, reduction="none"), equal_nan=True)
    assert torch.isnan(F.binary_cross_entropy_with_logits(x, t))


def test_empty_mean_is_nan_and_sum_is_zero(device):
    x, t = torch.empty(0, 3, device=device), torch.empty(0, 3, device=device)
    assert torch.isnan(F.binary_cross_entropy_with_logits(x, t))
    assert F.binary_cross_entropy_with_logits(x, t, reduction="sum").item() == 0.0


def test_legacy_size_average_and_reduce(device):
    x, t = torch.randn(3, 4, device=device), torch.rand(3, 4, device=device)
    for kwargs in ({"size_average": False}, {"reduce": False}, {"size_average": True, "reduce": True}):
        with pytest.warns(UserWarning):
            ours = F.binary_cross_entropy_with_logits(x, t, **kwargs)
        with pytest.warns(UserWarning):
            native = NF.binary_cross_entropy_with_logits(x, t, **kwargs)
        assert_close(ours, native)


GRAD_LAYOUTS = [((3, 4), None, None), ((3, 4), (4,), None), ((3, 4), None, (4,)), ((2, 3, 4), (3, 1), (4,)),
                ((5,), (), ())]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("layout", GRAD_LAYOUTS, ids=str)
def test_gradcheck_and_gradgradcheck(device, layout, reduction):
    x, t, w, p = _operands(layout, device, torch.float64)
    ours, _ = _bce(w, p, reduction)
    assert gradcheck(ours, (x, t))
    assert gradgradcheck(ours, (x, t))
    assert gradgradcheck(lambda x: ours(x, t.detach()), (x,))
    assert gradgradcheck(lambda t: ours(x.detach(), t), (t,))


def test_second_derivative_matches_native(device):
    x, t, w, p = _operands(((4, 3), (3,), (3,)), device, torch.float64)
    results = []
    for fn in (F.binary_cross_entropy_with_logits, NF.binary_cross_entropy_with_logits):
        loss = fn(x, t, weight=w, pos_weight=p)
        gx, gt = torch.autograd.grad(loss, [x, t], create_graph=True)
        results.append(torch.autograd.grad((gx * gx).sum() + (gt * x).sum(), [x, t]))
    for a, b in zip(*results):
        torch.testing.assert_close(a, b)


def test_backward_names_our_node(device):
    x = torch.randn(3, device=device, requires_grad=True)
    loss = F.binary_cross_entropy_with_logits(x, torch.zeros(3, device=device))
    assert type(loss.grad_fn).__name__ == "BCEWithLogitsBackward"


def test_errors(device):
    x, t = torch.randn(3, 4, device=device), torch.rand(3, 4, device=device)
    op = torchext.ops.binary_cross_entropy_with_logits
    with pytest.raises(ValueError, match=r"Target size \(torch.Size\(\[2, 4\]\)\) must be the same as input size"):
        F.binary_cross_entropy_with_logits(x, t[:2])
    with pytest.raises(RuntimeError, match=r"torchext.binary_cross_entropy_with_logits: target size \[2, 4\] "
                                           r"must be the same as input size \[3, 4\]"):
        op(x, t[:2])
    with pytest.raises(RuntimeError, match=r"expected self to be .* but got Long"):
        op(x.long(), t)
    with pytest.raises(RuntimeError, match=r"expected self and target to have the same dtype"):
        op(x, t.double())
    with pytest.raises(RuntimeError, match=r"expected weight of shape \[2, 3, 4\] to be broadcastable to the "
                                           r"input shape \[3, 4\]"):
        op(x, t, torch.ones(2, 3, 4, device=device))
    with pytest.raises(RuntimeError, match=r"expected pos_weight of shape \[3\] to be broadcastable"):
        op(x, t, None, torch.ones(3, device=device))
    with pytest.raises(RuntimeError, match=r"expected reduction to be 0 \(none\), 1 \(mean\) or 2 \(sum\) but got 5"):
        op(x, t, None, None, 5)
    with pytest.raises(ValueError, match="is not a valid value for reduction"):
        F.binary_cross_entropy_with_logits(x, t, reduction="average")
    with pytest.raises(RuntimeError, match=r"not differentiable with respect to argument 'weight'"):
        F.binary_cross_entropy_with_logits(x, t, weight=torch.ones(4, device=device, requires_grad=True))
    with pytest.raises(RuntimeError, match=r"not differentiable with respect to argument 'pos_weight'"):
        F.binary_cross_entropy_with_logits(x, t, pos_weight=torch.ones(4, device=device, requires_grad=True))
    backward = torchext.ops.binary_cross_entropy_with_logits_backward
    with pytest.raises(RuntimeError, match=r"binary_cross_entropy_with_logits_backward: expected grad_output of "
                                           r"shape \[2\] to be broadcastable"):
        backward(torch.ones(2, device=device), x, t, None, None, 0, [True, True])


def test_constant_arguments_requiring_grad_are_refused_in_backward(device):
    """Calling the Function directly with a weight that needs grad must not silently give it no
    gradient."""
    from torchext.functions.loss import BCEWithLogits
    x = torch.randn(3, device=device, requires_grad=True)
    w = torch.rand(3, device=device, requires_grad=True)
    loss = BCEWithLogits.apply(x, torch.rand(3, device=device), w, None, 1)
    with pytest.raises(RuntimeError, match="not differentiable with respect to weight or pos_weight"):
        loss.backward()


def _opcheck_args(device):
    x, t = torch.randn(3, 4, device=device), torch.rand(3, 4, device=device)
    w, p = torch.rand(4, device=device), torch.rand(1, 4, device=device) + 0.5
    g0 = torch.tensor(0.7, device=device)
    return [
        ("binary_cross_entropy_with_logits", (x, t), {}),
        ("binary_cross_entropy_with_logits", (x, t, w, p, 0), {}),
        ("binary_cross_entropy_with_logits", (x.t(), t.t(), None, w[:3], 2), {}),
        ("binary_cross_entropy_with_logits_backward", (g0, x, t, None, None, 1, [True, True]), {}),
        ("binary_cross_entropy_with_logits_backward", (g0, x, t, w, p, 2, [True, False]), {}),
        ("binary_cross_entropy_with_logits_backward", (g0, x, t, w, None, 1, [False, True]), {}),
        ("binary_cross_entropy_with_logits_backward", (torch.randn(3, 4, device=device), x, t, None, p, 0,
                                                       [True, True]), {}),
    ]


@pytest.mark.parametrize("case", range(7))
def test_opcheck(device, case):
    name, args, kwargs = _opcheck_args(device)[case]
    torch.library.opcheck(getattr(torch.ops.torchext, name).default, args, kwargs)


def test_program3_style_loss(device):
    """The tutorial's one-layer network loss, with z = x*w summed plus b on our ops."""
    x = torch.ones(5, device=device)
    y = torch.zeros(3, device=device)
    w = torch.randn(5, 3, device=device, requires_grad=True)
    b = torch.randn(3, device=device, requires_grad=True)

    def run(add, mul, total, bce):
        z = add(total(mul(x.unsqueeze(1), w), 0), b)
        loss = bce(z, y)
        return [loss, *torch.autograd.grad(loss, [w, b])]
    ours = run(F.add, F.mul, F.sum, F.binary_cross_entropy_with_logits)
    native = run(torch.add, torch.mul, torch.sum, NF.binary_cross_entropy_with_logits)
    for a, b_ in zip(ours, native):
        assert_close(a, b_)


def test_torch_compile_fullgraph_with_sum_and_views(device):
    def f(x, t, w):
        z = F.sum(F.flatten(F.transpose(x, 0, 2), 1), 0, keepdim=True)  # [2, 3, 4] -> [2, 12] -> [1, 12]
        return F.binary_cross_entropy_with_logits(F.t(z), t, pos_weight=w)
    x = torch.randn(4, 3, 2, device=device, requires_grad=True)
    t = torch.rand(12, 1, device=device, requires_grad=True)
    w = torch.rand(1, device=device)
    compiled = torch.compile(f, backend="aot_eager", fullgraph=True)
    torch.testing.assert_close(compiled(x, t, w), f(x, t, w))
    for a, b in zip(torch.autograd.grad(compiled(x, t, w), [x, t]), torch.autograd.grad(f(x, t, w), [x, t])):
        torch.testing.assert_close(a, b)
