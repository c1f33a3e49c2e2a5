"""The op table's checks, run for every entry (torchext/optable): gradcheck in float64 and
gradgradcheck where the entry says its backward is differentiable (every entry today), float32
parity with the native reference (tolerances from each sample's reduction length), opcheck on every torchext op an entry's forward and backward call, and the table's completeness:
every public function has an entry, every nn mirror is listed, the declared op names are the ones
called."""
import dataclasses
import inspect
import io

import pytest
import torch
from torch.autograd import gradcheck, gradgradcheck

import torchext
from torchext import check
from torchext import functional as F
from torchext.optable import BY_NAME, OPS, OpInfo, module_mirrors
from fuzz_strategies import assert_same, compare_grads, tolerance
from optable_helpers import FLOAT64_CPU, build, distinct_calls, recorded_calls, run, sample_ids

SAMPLES, SAMPLE_IDS = sample_ids()
GRAD_SAMPLES, GRAD_SAMPLE_IDS = sample_ids(differentiable_only=True)
# opcheck runs on this many distinct calls of each op an entry uses (its time is per call).
OPCHECK_CALLS = 3


@pytest.mark.parametrize("name,index", GRAD_SAMPLES, ids=GRAD_SAMPLE_IDS)
def test_gradcheck(device, name, index):
    sample = build(name, index, torch.float64, device)
    entry = BY_NAME[name]
    fn = entry.call(entry.op)

    def call(*args):
        return fn(*args, **sample.kwargs)
    assert gradcheck(call, tuple(sample.args))
    if entry.gradgrad:
        assert gradgradcheck(call, tuple(sample.args))


@pytest.mark.parametrize("name,index", SAMPLES, ids=SAMPLE_IDS)
def test_float32_parity(device, name, index):
    """Outputs and every input gradient against the native reference, each on its own build of the
    same sample (same values and strides)."""
    ours_in, native_in = (build(name, index, torch.float32, device) for _ in range(2))
    ours, native = run(name, ours_in), run(name, native_in, lambda entry: entry.ref)
    ours, native = (o if isinstance(o, tuple) else (o,) for o in (ours, native))
    assert len(ours) == len(native)
    rtol, atol = tolerance(torch.float32, ours_in.terms)
    for i, (a, b) in enumerate(zip(ours, native)):
        if b.is_floating_point():
            assert_same(a, b, rtol, atol, f"output {i}")
        else:
            assert torch.equal(a, b), f"output {i}: {a} != native {b}"
    compare_grads(list(ours_in.args), list(native_in.args), ours, native, ours_in.grad_terms or ours_in.terms)


@pytest.mark.parametrize("name,op_name", [(e.name, op) for e in OPS for op in e.torch_ops],
                         ids=[f"{e.name}-{op}" for e in OPS for op in e.torch_ops])
def test_opcheck(device, name, op_name):
    """opcheck (schema, fake kernel, autograd registration, AOT dispatch) on calls the op really
    makes: those its samples' forward and backward pass to the dispatcher."""
    calls = distinct_calls(name, device, op_name, OPCHECK_CALLS)
    assert calls, f"{name}'s samples never call torchext::{op_name}"
    for func, args, kwargs in calls:
        torch.library.opcheck(func, args, kwargs)


@pytest.mark.parametrize("name", [e.name for e in OPS])
def test_declared_torch_ops_are_the_ones_called(name):
    """An entry's torch_ops (what opcheck covers) are exactly the torchext ops its samples call."""
    called = {func._schema.name.split("::")[1] for func, _, _ in recorded_calls(name, "cpu")}
    assert called == set(BY_NAME[name].torch_ops)


def test_every_public_function_has_an_entry():
    public = {name for name in dir(F) if not name.startswith("_") and inspect.isfunction(getattr(F, name))
              and getattr(F, name).__module__.startswith("torchext")}
    assert public == set(BY_NAME), f"without a table entry: {sorted(public - set(BY_NAME))}"
    for entry in OPS:
        assert entry.op is getattr(F, entry.name), f"{entry.name}: op is not torchext.functional.{entry.name}"


def test_every_nn_mirror_is_listed_once():
    names = [cls.__name__ for cls in module_mirrors()]
    assert sorted(names) == sorted(torchext.nn.__all__)


def test_every_entry_has_varied_samples():
    """Each entry's samples reach beyond contiguous inputs."""
    for entry in OPS:
        tensors = [a for s in entry.samples(FLOAT64_CPU) for a in s.args if isinstance(a, torch.Tensor)]
        assert any(not t.is_contiguous() for t in tensors), f"{entry.name}: only contiguous samples"


def test_check_command_reads_the_table(monkeypatch):
    """`torchext check` runs every table entry's samples, and reports an op whose gradient is wrong."""
    def detached_double(x):  # no gradient flows: gradcheck must fail
        return F.mul(x.detach(), 2.0)
    relu = BY_NAME["relu"]
    wrong = OpInfo("wrong_gradient", detached_double, None, relu.samples, torch_ops=(), determinism=relu.determinism)
    first_order_only = dataclasses.replace(BY_NAME["linear"], gradgrad=False)
    monkeypatch.setattr(check, "OPS", (relu, first_order_only, wrong))
    out = io.StringIO()
    assert check.run_checks(out) == 1
    lines = out.getvalue().splitlines()
    assert "relu" in lines[0] and "ok   gradcheck + gradgradcheck" in lines[0]
    assert "linear" in lines[1] and "ok   gradcheck  (" in lines[1]
    assert "wrong_gradient" in lines[2] and "FAIL" in lines[2]
    assert lines[3] == "gradcheck: 2 ops passed, 1 failed"
