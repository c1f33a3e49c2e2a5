"""torchext.optim.SGD(step_in_backward=True): each parameter's update applied inside backward by a
post-accumulate-grad hook, with the values of torch.optim.SGD(foreach=False) bit for bit."""
import copy
import gc

import pytest
import torch
from torch import nn

from torchext.optim import SGD
from test_sgd import OPTIONS


def small_net(dtype=torch.float32):
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 5 * 5, 3)).to(dtype)


def batches(n, dtype=torch.float32):
    g = torch.Generator().manual_seed(1)
    return [(torch.randn(2, 3, 7, 7, generator=g, dtype=dtype), torch.randn(2, 3, generator=g, dtype=dtype))
            for _ in range(n)]


def train(model, opt, data, schedule=None):
    for x, y in data:
        opt.zero_grad()
        ((model(x) - y) ** 2).sum().backward()
        opt.step()
        if schedule is not None:
            schedule.step()


def assert_same(model_a, opt_a, model_b, opt_b):
    for pa, pb in zip(model_a.parameters(), model_b.parameters()):
        assert torch.equal(pa, pb), f"max diff {(pa - pb).abs().max().item()}"
        assert torch.equal(pa.grad, pb.grad)
        sa, sb = opt_a.state.get(pa, {}), opt_b.state.get(pb, {})
        assert sa.keys() == sb.keys()
        if "momentum_buffer" in sa:
            assert torch.equal(sa["momentum_buffer"], sb["momentum_buffer"])


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("opts", OPTIONS, ids=lambda o: "-".join(f"{k}={v}" for k, v in o.items()))
def test_bitwise_equal_to_torch_sgd(dtype, opts):
    ours, theirs = small_net(dtype), small_net(dtype)
    opt_ours = SGD(ours.parameters(), lr=0.05, step_in_backward=True, **opts)
    opt_theirs = torch.optim.SGD(theirs.parameters(), lr=0.05, foreach=False, **opts)
    data = batches(4, dtype)
    train(ours, opt_ours, data)
    train(theirs, opt_theirs, data)
    assert_same(ours, opt_ours, theirs, opt_theirs)


def test_updates_happen_in_backward_and_step_skips_them():
    model = small_net()
    opt = SGD(model.parameters(), lr=0.1, step_in_backward=True)
    x, y = batches(1)[0]
    before = [p.detach().clone() for p in model.parameters()]
    ((model(x) - y) ** 2).sum().backward()
    after_backward = [p.detach().clone() for p in model.parameters()]
    assert all(not torch.equal(a, b) for a, b in zip(before, after_backward))
    opt.step()  # nothing left to update
    assert all(torch.equal(a, p) for a, p in zip(after_backward, model.parameters()))


def test_param_groups_schedules_and_params_backward_does_not_reach():
    """Two groups with their own options, an lr schedule, and a parameter (the frozen-in-graph
    `extra`) whose grad is set by hand: step() updates it, as torch.optim.SGD would."""
    ours, theirs = small_net(), small_net()
    extra_ours, extra_theirs = torch.ones(5, requires_grad=True), torch.ones(5, requires_grad=True)

    def groups(model, extra):
        return [{"params": list(model[0].parameters()), "lr": 0.2, "momentum": 0.9},
                {"params": list(model[3].parameters()) + [extra], "weight_decay": 0.01}]

    opt_ours = SGD(groups(ours, extra_ours), lr=0.05, step_in_backward=True)
    opt_theirs = torch.optim.SGD(groups(theirs, extra_theirs), lr=0.05, foreach=False)
    for opt, model, extra in ((opt_ours, ours, extra_ours), (opt_theirs, theirs, extra_theirs)):
        schedule = torch.optim.lr_scheduler.StepLR(opt, step_size=1, gamma=0.5)
        for i, (x, y) in enumerate(batches(3)):
            opt.zero_grad()
            ((model(x) - y) ** 2).sum().backward()
            extra.grad = torch.full((5,), float(i + 1))
            opt.step()
            schedule.step()
    assert_same(ours, opt_ours, theirs, opt_theirs)
    assert torch.equal(extra_ours, extra_theirs)


def test_shared_weight_is_updated_once():
    torch.manual_seed(0)
    weight = torch.randn(4, 4, requires_grad=True)
    twin = weight.detach().clone().requires_grad_()
    opt_ours = SGD([weight], lr=0.1, momentum=0.9, step_in_backward=True)
    opt_theirs = torch.optim.SGD([twin], lr=0.1, momentum=0.9, foreach=False)
    x = torch.randn(3, 4)
    for w, opt in ((weight, opt_ours), (twin, opt_theirs)):
        for _ in range(2):
            opt.zero_grad()
            (x @ w @ w).sum().backward()  # w used twice: its grads are summed before the hook
            opt.step()
    assert torch.equal(weight, twin)


def test_second_backward_before_step_raises():
    model = small_net()
    opt = SGD(model.parameters(), lr=0.1, step_in_backward=True)
    x, y = batches(1)[0]
    ((model(x) - y) ** 2).sum().backward()
    with pytest.raises(RuntimeError, match="second backward reached a parameter before step"):
        ((model(x) - y) ** 2).sum().backward()


def test_deepcopy_hooks_its_own_params_and_a_dropped_optimizer_does_nothing():
    model = small_net()
    opt = SGD(model.parameters(), lr=0.1, step_in_backward=True)
    both = copy.deepcopy({"model": model, "opt": opt})
    twin, twin_opt = both["model"], both["opt"]
    reference = small_net()
    reference_opt = torch.optim.SGD(reference.parameters(), lr=0.1, foreach=False)
    data = batches(2)
    train(twin, twin_opt, data)
    train(reference, reference_opt, data)
    assert all(torch.equal(a, b) for a, b in zip(twin.parameters(), reference.parameters()))
    assert all(torch.equal(a, b) for a, b in zip(model.parameters(), small_net().parameters()))

    del opt
    gc.collect()
    before = [p.detach().clone() for p in model.parameters()]
    x, y = data[0]
    ((model(x) - y) ** 2).sum().backward()
    assert all(torch.equal(a, p) for a, p in zip(before, model.parameters()))


def test_default_is_the_usual_step():
    model = small_net()
    opt = SGD(model.parameters(), lr=0.1)
    before = [p.detach().clone() for p in model.parameters()]
    x, y = batches(1)[0]
    ((model(x) - y) ** 2).sum().backward()
    assert all(torch.equal(a, p) for a, p in zip(before, model.parameters()))
