"""torchext.optim.SGD and the fused torchext.sgd_step_ op: bit-for-bit equal to
torch.optim.SGD(foreach=False) (its single-tensor path) for every option."""
import itertools

import pytest
import torch

import torchext
from torchext.optim import SGD
from torchext.recorder import OpRecorder

# Odd sizes, a 0-dim tensor, an empty one, and enough elements in total (> the kernel's parallel
# grain) that chunks cross parameter boundaries.
SHAPES = [(), (1,), (7,), (3, 5), (0, 4), (2, 3, 3, 3), (33, 17), (257, 131)]

# Every valid option combination (nesterov needs momentum and zero dampening).
OPTIONS = [
    dict(momentum=m, dampening=d, weight_decay=wd, nesterov=n, maximize=mx)
    for m, d, wd, n, mx in itertools.product([0.0, 0.9], [0.0, 0.3], [0.0, 1e-2], [False, True],
                                             [False, True])
    if not (n and (m == 0 or d != 0))
]


def make_params(device, dtype, shapes=SHAPES):
    return [torch.randn(s, device=device, dtype=dtype, requires_grad=True) for s in shapes]


def twin(params):
    return [p.detach().clone().requires_grad_() for p in params]


def set_grads(*param_lists, seed):
    g = torch.Generator().manual_seed(seed)
    for ps in zip(*param_lists):
        grad = torch.randn(ps[0].shape, generator=g, dtype=ps[0].dtype).to(ps[0].device)
        for p in ps:
            p.grad = grad.clone()


def assert_bitwise(ours, theirs):
    for a, b in zip(ours, theirs):
        assert torch.equal(a, b), f"max diff {(a - b).abs().max().item()}"


def assert_same_state(opt_a, params_a, opt_b, params_b):
    for pa, pb in zip(params_a, params_b):
        sa, sb = opt_a.state.get(pa, {}), opt_b.state.get(pb, {})
        assert sa.keys() == sb.keys()
        if "momentum_buffer" in sa:
            assert torch.equal(sa["momentum_buffer"], sb["momentum_buffer"])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_bitwise_equal_to_torch_sgd(device, dtype, opts):
    ours = make_params(device, dtype)
    theirs = twin(ours)
    opt_ours = SGD(ours, lr=0.05, **opts)
    opt_theirs = torch.optim.SGD(theirs, lr=0.05, foreach=False, **opts)
    for step in range(5):
        set_grads(ours, theirs, seed=step)
        opt_ours.step()
        opt_theirs.step()
        assert_bitwise(ours, theirs)
        assert_same_state(opt_ours, ours, opt_theirs, theirs)


def test_param_groups_with_different_options(device):
    base = make_params(device, torch.float32)
    ours, theirs = twin(base), twin(base)

    def groups(ps):
        return [dict(params=ps[:3]), dict(params=ps[3:6], lr=0.3, nesterov=True),
                dict(params=ps[6:], lr=0.01, momentum=0.0, weight_decay=0.1)]

    opt_ours = SGD(groups(ours), lr=0.1, momentum=0.9)
    opt_theirs = torch.optim.SGD(groups(theirs), lr=0.1, momentum=0.9, foreach=False)
    for step in range(5):
        set_grads(ours, theirs, seed=step)
        opt_ours.step()
        opt_theirs.step()
    assert_bitwise(ours, theirs)
    assert_same_state(opt_ours, ours, opt_theirs, theirs)


def test_mixed_dtypes_in_one_group_and_late_grads(device):
    """float32 and float64 params in one group form two buckets; a param whose grad first appears
    at step 3 gets a fresh buffer while the others update theirs."""
    base = (make_params(device, torch.float32, [(5,), (6,)])
            + make_params(device, torch.float64, [(7,)]))
    ours, theirs = twin(base), twin(base)
    opt_ours = SGD(ours, lr=0.1, momentum=0.9, dampening=0.1)
    opt_theirs = torch.optim.SGD(theirs, lr=0.1, momentum=0.9, dampening=0.1, foreach=False)
    for step in range(5):
        set_grads(ours, theirs, seed=step)
        if step < 3:
            ours[1].grad = theirs[1].grad = None
        opt_ours.step()
        opt_theirs.step()
        assert_bitwise(ours, theirs)
        assert_same_state(opt_ours, ours, opt_theirs, theirs)


def test_params_without_grad_are_untouched(device):
    ps = make_params(device, torch.float32, [(4,), (5,)])
    before = ps[1].detach().clone()
    opt = SGD(ps, lr=0.1, momentum=0.9)
    ps[0].grad = torch.ones_like(ps[0])
    opt.step()
    assert torch.equal(ps[1], before)
    assert ps[1] not in opt.state and "momentum_buffer" in opt.state[ps[0]]


def test_non_contiguous_params_and_grads(device):
    """A channels_last param, a transposed grad and a transposed param: each still bitwise."""
    p1 = torch.randn(2, 3, 4, 5, device=device).to(memory_format=torch.channels_last)
    p2 = torch.randn(6, 7, device=device).t()
    ours = [p1.clone().requires_grad_(), p2.clone().requires_grad_()]
    theirs = [p1.clone().requires_grad_(), p2.clone().requires_grad_()]
    opt_ours = SGD(ours, lr=0.1, momentum=0.9, weight_decay=0.01)
    opt_theirs = torch.optim.SGD(theirs, lr=0.1, momentum=0.9, weight_decay=0.01, foreach=False)
    for step in range(3):
        set_grads(ours, theirs, seed=step)
        ours[1].grad = ours[1].grad.t().contiguous().t()  # column-major, like the param
        ours[0].grad = ours[0].grad.contiguous()          # row-major, unlike the param
        opt_ours.step()
        opt_theirs.step()
    assert_bitwise(ours, theirs)
    assert ours[0].is_contiguous(memory_format=torch.channels_last)


@pytest.mark.parametrize("direction", ["torch_to_ours", "ours_to_torch"])
def test_state_dict_round_trip(device, direction):
    base = make_params(device, torch.float32)
    a, b = twin(base), twin(base)
    kwargs = dict(lr=0.1, momentum=0.9, weight_decay=1e-3)
    first_cls, second_cls = ((torch.optim.SGD, SGD) if direction == "torch_to_ours"
                             else (SGD, torch.optim.SGD))
    reference = torch.optim.SGD(a, foreach=False, **kwargs)
    first = first_cls(b, **kwargs)
    for step in range(2):
        set_grads(a, b, seed=step)
        reference.step()
        first.step()
    second = second_cls(b, lr=0.5)  # different hyperparameters: the state_dict overrides them
    second.load_state_dict(first.state_dict())
    assert second.param_groups[0]["lr"] == 0.1
    for step in range(2, 5):
        set_grads(a, b, seed=step)
        reference.step()
        second.step()
    assert_bitwise(b, a)
    assert_same_state(second, b, reference, a)
    keys = [o.state_dict()["param_groups"][0].keys() for o in (first, reference)]
    assert keys[0] == keys[1]


def test_closure_and_tensor_lr(device):
    ours = make_params(device, torch.float64, [(3, 4)])
    theirs = twin(ours)
    opt_ours = SGD(ours, lr=torch.tensor(0.05), momentum=0.5)
    opt_theirs = torch.optim.SGD(theirs, lr=torch.tensor(0.05), momentum=0.5, foreach=False)

    def closure(ps, opt):
        def run():
            opt.zero_grad()
            loss = (ps[0] ** 2).sum()
            loss.backward()
            return loss
        return run

    for _ in range(3):
        la = opt_ours.step(closure(ours, opt_ours))
        lb = opt_theirs.step(closure(theirs, opt_theirs))
        assert torch.equal(la, lb)
    assert_bitwise(ours, theirs)


def test_one_fused_call_per_bucket(device):
    ps = make_params(device, torch.float32) + make_params(device, torch.float64, [(3,), (4,)])
    opt = SGD(ps, lr=0.1, momentum=0.9)
    for step in range(2):
        set_grads(ps, seed=step)
        with OpRecorder() as rec:
            opt.step()
        calls = [str(op.overloadpacket) for op in rec.ops]
        fused = [c for c in calls if c.startswith("torchext.")]
        assert fused == ["torchext.sgd_step_"] * 2  # float32 bucket, float64 bucket
        # Optimizer.step's profiler annotation is recorded as ops too; it computes nothing.
        others = {c for c in calls
                  if not c.startswith(("torchext.", "profiler._record_function"))}
        assert others <= ({"aten.empty_like"} if step == 0 else set()), others


@pytest.mark.parametrize("kwargs", [
    dict(lr=-1.0), dict(lr=0.1, momentum=-0.5), dict(lr=0.1, weight_decay=-1.0),
    dict(lr=0.1, nesterov=True), dict(lr=0.1, momentum=0.9, dampening=0.1, nesterov=True),
    dict(lr=torch.tensor([0.1, 0.2])),
])
def test_constructor_errors_match_torch(kwargs):
    p = [torch.zeros(2, requires_grad=True)]
    with pytest.raises(ValueError) as theirs:
        torch.optim.SGD(p, **kwargs)
    with pytest.raises(ValueError) as ours:
        SGD(p, **kwargs)
    assert str(ours.value) == str(theirs.value)


def test_unsupported_options_raise():
    p = [torch.zeros(2, requires_grad=True)]
    with pytest.raises(RuntimeError, match="differentiable=True is not supported"):
        SGD(p, differentiable=True)
    sparse = torch.zeros(3, requires_grad=True)
    sparse.grad = torch.zeros(3).to_sparse()
    with pytest.raises(RuntimeError, match="sparse gradients"):
        SGD([sparse], lr=0.1).step()


def test_op_errors(device):
    op = torchext.ops.sgd_step_
    p, g, b = (torch.zeros(3, device=device) for _ in range(3))
    with pytest.raises(RuntimeError, match=r"torchext.sgd_step_: expected as many grads as params"):
        op([p], [], [], 0.1, 0.0, 0.0, 0.0, False, False, False)
    with pytest.raises(RuntimeError, match=r"expected as many momentum_buffers as params"):
        op([p], [g], [], 0.1, 0.9, 0.0, 0.0, False, False, False)
    with pytest.raises(RuntimeError, match=r"expected momentum_buffers to be empty"):
        op([p], [g], [b], 0.1, 0.0, 0.0, 0.0, False, False, False)
    with pytest.raises(RuntimeError, match=r"expected grads\[0\] of shape \[3\]"):
        op([p], [torch.zeros(4, device=device)], [], 0.1, 0.0, 0.0, 0.0, False, False, False)
    with pytest.raises(RuntimeError, match=r"expected momentum_buffers\[0\] of shape \[3\]"):
        op([p], [g], [torch.zeros(2, device=device)], 0.1, 0.9, 0.0, 0.0, False, False, False)
    with pytest.raises(RuntimeError, match=r"torchext.sgd_step_: expected params to be"):
        op([p.long()], [g.long()], [], 0.1, 0.0, 0.0, 0.0, False, False, False)
    with pytest.raises(RuntimeError, match=r"expected grads\[0\] to be Float"):
        op([p], [g.double()], [], 0.1, 0.0, 0.0, 0.0, False, False, False)
    with pytest.raises(RuntimeError, match=r"expected params\[1\] to be Float"):
        op([p, p.double()], [g, g.double()], [], 0.1, 0.0, 0.0, 0.0, False, False, False)
    with pytest.raises(RuntimeError, match=r"nesterov momentum requires a momentum and zero"):
        op([p], [g], [], 0.1, 0.0, 0.0, 0.0, True, False, False)


def test_step_without_any_grad_calls_nothing(device):
    """The dispatcher cannot route a call with no tensors, so the optimizer never makes one."""
    ps = make_params(device, torch.float32, [(3,)])
    opt = SGD(ps, lr=0.1, momentum=0.9)
    with OpRecorder() as rec:
        opt.step()
    assert not [op for op in rec.ops if op.namespace != "profiler"] and not opt.state


def _op_samples(device):
    def tensors(dtype, shapes):
        return [torch.randn(s, device=device, dtype=dtype) for s in shapes]
    shapes = [(3,), (2, 5), ()]
    for dtype in (torch.float32, torch.float64):
        yield (tensors(dtype, shapes), tensors(dtype, shapes), [],
               0.1, 0.0, 0.0, 0.0, False, False, False)
        yield (tensors(dtype, shapes), tensors(dtype, shapes), tensors(dtype, shapes),
               0.1, 0.9, 0.0, 1e-2, True, True, True)
        yield (tensors(dtype, shapes), tensors(dtype, shapes), tensors(dtype, shapes),
               0.1, 0.9, 0.2, 0.0, False, False, False)


def test_opcheck(device):
    for args in _op_samples(device):
        torch.library.opcheck(torch.ops.torchext.sgd_step_.default, args)
