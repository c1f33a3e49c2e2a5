"""Helpers shared by the op tests."""
import torch

from conftest import TOL


def assert_close(actual, expected, dtype=None, scale=1.0):
    """Parity with native within the dtype's tolerance (scale loosens it for long reductions)."""
    rtol, atol = TOL[dtype or expected.dtype]
    torch.testing.assert_close(actual, expected, rtol=rtol * scale, atol=atol * scale)


def grads(out, inputs, grad_out=None):
    """Gradients of out w.r.t. the inputs that require grad (None for those that don't)."""
    if grad_out is None:
        grad_out = torch.randn_like(out)
    need = [t for t in inputs if isinstance(t, torch.Tensor) and t.requires_grad]
    got = iter(torch.autograd.grad(out, need, grad_out, allow_unused=True))
    return [next(got) if isinstance(t, torch.Tensor) and t.requires_grad else None for t in inputs]


def compare_with_native(ours, native, inputs, dtype=None, scale=1.0):
    """Runs ours(*inputs) and native(*inputs) on independent leaf copies; compares outputs and
    every input gradient."""
    def leaves():
        return [t.detach().clone().requires_grad_(t.requires_grad) if isinstance(t, torch.Tensor) else t
                for t in inputs]
    a_in, b_in = leaves(), leaves()
    a, b = ours(*a_in), native(*b_in)
    assert_close(a, b, dtype, scale)
    if not any(isinstance(t, torch.Tensor) and t.requires_grad for t in inputs) or a.numel() == 0:
        return
    g = torch.randn_like(b)
    for ga, gb in zip(grads(a, a_in, g), grads(b, b_in, g)):
        if gb is None:
            assert ga is None
        else:
            assert_close(ga, gb, dtype, scale)


def assert_within_rounding(actual, other, abs_terms, terms, dtype):
    """Two results of the same sums of `terms` products each, computed in `dtype` in any order
    (thread split, blocking, FMA or not), agree within rounding: |actual - other| <= terms * eps *
    |abs_terms|, abs_terms being the sums of the products' absolute values (its sign is dropped:
    an op run on absolute values may carry a negative coefficient). Each partial sum rounds
    with relative error at most eps / 2, so one result is within (terms - 1) * eps / 2 * abs_terms
    of the exact sum (Higham, Accuracy and Stability of Numerical Algorithms, 3.1); the bound here
    covers two such results."""
    eps = torch.finfo(dtype).eps
    bound = terms * eps * abs_terms.double().abs() + torch.finfo(dtype).tiny
    err = (actual.double() - other.double()).abs()
    bad = err > bound
    assert not bad.any(), (f"{int(bad.sum())} of {bad.numel()} values differ by more than the rounding "
                           f"bound of {terms} terms in {dtype}; worst excess {(err - bound).max().item():.3g}")


def compare_multilinear_with_native(ours, native, inputs, terms):
    """ours(*inputs) and every input gradient against native's in the same dtype, for an op linear
    in each input (matmul, conv2d, linear, sum): within the rounding bound of sums of `terms`
    products (the longest sum of the forward and the backward). The sums of absolute terms come
    from native in float64 on |inputs| and |grad|."""
    dtype = inputs[0].dtype
    ins_a = [t.detach().clone().requires_grad_() for t in inputs]
    ins_b = [t.detach().clone().requires_grad_() for t in inputs]
    ins_abs = [t.detach().abs().double().requires_grad_() for t in inputs]
    out_a, out_b, out_abs = ours(*ins_a), native(*ins_b), native(*ins_abs)
    grad = torch.randn_like(out_b)
    grads_a = torch.autograd.grad(out_a, ins_a, grad)
    grads_b = torch.autograd.grad(out_b, ins_b, grad)
    grads_abs = torch.autograd.grad(out_abs, ins_abs, grad.abs().double())
    assert_within_rounding(out_a, out_b, out_abs.detach(), terms, dtype)
    for ga, gb, gabs in zip(grads_a, grads_b, grads_abs):
        assert_within_rounding(ga, gb, gabs, terms, dtype)
