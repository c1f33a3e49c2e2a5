"""softmax/log_softmax and the fused scaled_dot_product_attention against native: ViT's shapes
(float32 error against float64 within 2x native's), masks, causal, GQA, fully masked rows, every
CPU capability in float64, dtype=, the nn mirrors, the mode's routes (a bool mask included) and
the refusal of attention dropout."""
import pytest
import torch
import torch.nn.functional as NF
from torch import nn

import torchext
from torchext import functional as F
from torchext.backends import cpu as cpu_backend


def _run(fn, inputs, seed=1, **kw):
    """fn's output and the gradients of every input that is floating, for one output gradient."""
    leaves = [t.detach().clone().requires_grad_(t.is_floating_point()) for t in inputs]
    out = fn(*leaves, **kw)
    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(seed), dtype=out.dtype)
    need = [t for t in leaves if t.requires_grad]
    return [out, *torch.autograd.grad(out, need, g)]


def _error(results, reference):
    return [(a.double() - r).abs().max().item() if a.numel() else 0.0 for a, r in zip(results, reference)]


def _float32_within_native(ours, native, inputs, **kw):
    """ours and native in float32, both against native in float64: ours' error at most 2x native's
    (plus a few ulps where native's is 0)."""
    reference = _run(native, [t.double() if t.is_floating_point() else t for t in inputs], **kw)
    ours_err = _error(_run(ours, inputs, **kw), reference)
    native_err = _error(_run(native, inputs, **kw), reference)
    for what, a, n, r in zip(["output", "grad 0", "grad 1", "grad 2", "grad 3"], ours_err, native_err, reference):
        bound = 2 * n + 4 * torch.finfo(torch.float32).eps * max(r.abs().max().item(), 1.0)
        assert a <= bound, f"{what}: error {a:.3g} above 2x native's {n:.3g}"


@pytest.mark.parametrize("L", [50, 197])
@pytest.mark.parametrize("kind", ["none", "causal", "bool", "additive"])
def test_vit_shapes_float32(L, kind):
    q, k, v = (torch.randn(2, 12, L, 64) for _ in range(3))
    inputs, kw = [q, k, v], {}
    if kind == "causal":
        kw["is_causal"] = True
    elif kind == "bool":
        mask = torch.rand(L, L) > 0.3
        mask[3] = False  # a fully masked row: native's 0 and zero gradients
        kw["attn_mask"] = mask
    elif kind == "additive":
        inputs.append(torch.randn(2, 1, L, L))
    _float32_within_native(F.scaled_dot_product_attention, NF.scaled_dot_product_attention, inputs, **kw)


@pytest.mark.parametrize("capability", cpu_backend.supported_capabilities())
@pytest.mark.parametrize("qs,ks,ev,kw", [
    ((2, 3, 37, 16), (2, 3, 300, 16), 24, {}),                     # two key blocks
    ((1, 2, 130, 8), (1, 2, 130, 8), 8, {"is_causal": True}),      # several query blocks
    ((1, 2, 9, 8), (1, 2, 530, 8), 8, {"is_causal": True, "scale": 0.7}),
    ((2, 6, 11, 8), (2, 2, 13, 8), 5, {"enable_gqa": True}),
    ((3, 7, 8), (1, 9, 8), 8, {}),                                  # key/value broadcast
])
def test_float64_every_capability(capability, qs, ks, ev, kw):
    q, k, v = torch.randn(qs, dtype=torch.float64), torch.randn(ks, dtype=torch.float64), \
        torch.randn(ks[:-1] + (ev,), dtype=torch.float64)
    with cpu_backend.capability_scope(capability):
        ours = _run(F.scaled_dot_product_attention, [q, k, v], **kw)
    native = _run(NF.scaled_dot_product_attention, [q, k, v], **kw)
    for a, n in zip(ours, native):
        torch.testing.assert_close(a, n, rtol=1e-10, atol=1e-10)


def test_fully_masked_rows_as_native():
    q, k, v = torch.randn(1, 2, 4, 8), torch.randn(1, 2, 6, 8), torch.randn(1, 2, 6, 8)
    mask = torch.ones(4, 6, dtype=torch.bool)
    mask[1] = False
    additive = torch.zeros(4, 6)
    additive[2] = float("-inf")
    for m in (mask, additive):
        ours = _run(F.scaled_dot_product_attention, [q, k, v], attn_mask=m)
        native = _run(NF.scaled_dot_product_attention, [q, k, v], attn_mask=m)
        for a, n in zip(ours, native):
            torch.testing.assert_close(a, n, rtol=1e-5, atol=1e-5)
        assert not ours[0].isnan().any()


def test_no_keys_gives_zeros():
    q, k, v = torch.randn(2, 3, 4), torch.randn(2, 0, 4), torch.randn(2, 0, 5)
    out = F.scaled_dot_product_attention(q, k, v)
    assert out.shape == (2, 3, 5) and not out.any()


def test_nan_query_row_stays_in_its_row():
    q, k, v = torch.randn(1, 5, 4), torch.randn(1, 6, 4), torch.randn(1, 6, 3)
    q[0, 2, 1] = float("nan")
    out = F.scaled_dot_product_attention(q, k, v)
    assert out[0, 2].isnan().all() and not out[0, [0, 1, 3, 4]].isnan().any()


def test_dropout_refused_and_native_under_the_mode():
    q = torch.randn(1, 2, 3, 4)
    with pytest.raises(NotImplementedError, match="scaled_dot_product_attention: dropout_p"):
        F.scaled_dot_product_attention(q, q, q, dropout_p=0.1)
    with torchext.enable():
        out = NF.scaled_dot_product_attention(q, q, q, dropout_p=0.1)
    assert out.shape == q.shape


def test_route_with_a_bool_mask():
    """Under the mode, F.scaled_dot_product_attention with a bool mask (a non-float tensor argument
    that would otherwise keep the call native) runs our forward and backward ops."""
    q, k, v = (torch.randn(2, 3, 6, 8, requires_grad=True) for _ in range(3))
    mask = torch.rand(6, 6) > 0.3
    ref = NF.scaled_dot_product_attention(q, k, v, attn_mask=mask)
    ref_grads = torch.autograd.grad(ref.sum(), [q, k, v])
    with torch.profiler.profile() as prof:
        with torchext.enable():
            out = NF.scaled_dot_product_attention(q, k, v, attn_mask=mask)
        grads = torch.autograd.grad(out.sum(), [q, k, v])
    torch.testing.assert_close(out, ref, rtol=1e-5, atol=1e-5)
    for a, b in zip(grads, ref_grads):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)
    names = {e.name for e in prof.events()}
    assert {"torchext::scaled_dot_product_attention", "torchext::scaled_dot_product_attention_backward"} <= names
    assert not any(n.startswith("aten::_scaled_dot_product") for n in names)


@pytest.mark.parametrize("fn,method", [(F.softmax, torch.Tensor.softmax), (F.log_softmax, torch.Tensor.log_softmax)])
def test_softmax_dtype_and_routes(fn, method):
    x = torch.randn(4, 7, requires_grad=True)
    native = NF.softmax if fn is F.softmax else NF.log_softmax
    out = fn(x, 1, dtype=torch.float64)
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, native(x, 1, dtype=torch.float64), rtol=1e-12, atol=1e-12)
    (g,) = torch.autograd.grad(out.sum() * 0 + (out * out).sum(), [x])
    (gn,) = torch.autograd.grad((native(x, 1, dtype=torch.float64) ** 2).sum(), [x])
    assert g.dtype == torch.float32
    torch.testing.assert_close(g, gn)
    with torchext.enable():
        routed = method(x, 0, torch.float64)  # dtype as the third positional argument
        assert routed.grad_fn.name().endswith("_SoftmaxBackward")
    torch.testing.assert_close(routed, native(x, 0, dtype=torch.float64))


def test_softmax_implicit_dim_as_native():
    x = torch.randn(2, 3, 4)
    with pytest.warns(UserWarning, match="Implicit dimension choice"):
        ours = F.softmax(x)
    with pytest.warns(UserWarning):
        native = NF.softmax(x)
    torch.testing.assert_close(ours, native)


def test_softmax_mirrors_patched():
    model = nn.Sequential(nn.Linear(5, 6), nn.Softmax(dim=-1), nn.LogSoftmax(dim=0))
    x = torch.randn(3, 5)
    ref = model(x)
    torchext.patch(model)
    assert type(model[1]).__module__ == "torchext.nn" and type(model[2]).__module__ == "torchext.nn"
    torch.testing.assert_close(model(x), ref)


@pytest.mark.parametrize("capability", cpu_backend.supported_capabilities())
@pytest.mark.parametrize("shape,dim", [((96, 197), -1), ((4, 300, 5), 1), ((3, 1000), 0), ((2, 8), 1)])
def test_softmax_float64_every_capability(capability, shape, dim):
    x = torch.randn(shape, dtype=torch.float64) * 4
    for fn, native in ((F.softmax, NF.softmax), (F.log_softmax, NF.log_softmax)):
        with cpu_backend.capability_scope(capability):
            ours = _run(lambda t: fn(t, dim), [x])
        ref = _run(lambda t: native(t, dim), [x])
        for a, n in zip(ours, ref):
            torch.testing.assert_close(a, n, rtol=1e-12, atol=1e-13)
