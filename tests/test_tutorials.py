"""The tutorial programs 2-4 on torchext.enable(): equal to native, and no native compute op
runs during their forward and backward."""
import importlib
import sys
from pathlib import Path

import pytest
import torch

import torchext
from torchext.recorder import OpRecorder

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "examples"))


def _compare(native, ours, rtol=0.0, atol=0.0):
    assert native.keys() == ours.keys()
    for name in native:
        a, b = native[name], ours[name]
        if isinstance(a, torch.Tensor):
            assert a.dtype == b.dtype and a.shape == b.shape, name
            torch.testing.assert_close(b, a, rtol=rtol, atol=atol, msg=name)
        else:
            assert a == b, name


def test_program2_equals_native_exactly():
    program = importlib.import_module("program2_tensor_gradients")
    native = program.run()
    with torchext.enable():
        ours = program.run()
    _compare(native, ours)
    assert ours["9*a**2 == a.grad"].all() and ours["-2*b == b.grad"].all()
    assert ours["x.grad"].tolist() == [12.0, 24.0] and ours["y.grad"].tolist() == [-24.0, -96.0]


def test_program2_no_grad_raises_like_native():
    x = torch.tensor([1., 2.])
    y = torch.tensor([2., 4.])
    with torchext.enable():
        z = 6 * x**2 - 2 * y**3
        with pytest.raises(RuntimeError, match="element 0 of tensors does not require grad"):
            z.backward(torch.tensor([1., 1.]))


def test_program3_equals_native():
    program = importlib.import_module("program3_one_layer_network")
    native = program.run()
    with torchext.enable():
        ours = program.run()
    for name in ("z.grad_fn", "loss.grad_fn"):  # each names a backward node: ours, not native's
        assert ours[name].endswith("Backward"), ours[name]
        native[name] = ours[name]
    _compare(native, ours, rtol=1e-6, atol=1e-6)
    assert ours["no_grad z.requires_grad"] is False and ours["z_det.requires_grad"] is False


def test_program4_equals_native_exactly():
    program = importlib.import_module("program4_repeated_backward")
    native = program.run()
    with torchext.enable():
        ours = program.run()
    _compare(native, ours)
    assert "Trying to backward through the graph a second time" in ours["backward after free"]
    torch.testing.assert_close(ours["second call"], 2 * ours["first call"])


def _forward_backward_programs():
    """The differentiable parts of programs 2-4 (inputs are made before recording starts)."""
    a = torch.tensor([2., 3.], requires_grad=True)
    b = torch.tensor([6., 4.], requires_grad=True)
    x, y = torch.ones(5), torch.zeros(3)
    w = torch.randn(5, 3, requires_grad=True)
    bias = torch.randn(3, requires_grad=True)
    inp = torch.eye(4, 5, requires_grad=True)
    external_grad = torch.tensor([1., 1.])

    def run():
        Q = 3 * a**3 - b**2
        Q.backward(gradient=external_grad)
        z = torch.matmul(x, w) + bias
        loss = torch.nn.functional.binary_cross_entropy_with_logits(z, y)
        loss.backward()
        out = (inp + 1).pow(2).t()
        out.backward(torch.ones_like(out), retain_graph=True)
        inp.grad.zero_()
        out.backward(torch.ones_like(out))
    run.gradients = lambda: [t.grad for t in (a, b, w, bias, inp)]
    return run


def test_no_native_compute_op_in_programs_2_to_4():
    run = _forward_backward_programs()
    recorder = OpRecorder()
    with torchext.enable(), recorder:
        run()
    # Program 4 backpropagates again after inp.grad.zero_(): the engine accumulates into that
    # existing .grad with add_, which is the engine's work, not an op of the programs.
    assert recorder.native_compute_ops(gradients=run.gradients()) == []
    assert {"torchext::pow_scalar", "torchext::mul_scalar", "torchext::sub", "torchext::matmul",
            "torchext::add", "torchext::add_scalar",
            "torchext::binary_cross_entropy_with_logits",
            "torchext::binary_cross_entropy_with_logits_backward"} <= set(recorder.torchext_ops())


def test_recorder_catches_native_compute():
    """The recorder is not vacuous: the same programs without enable() are all native."""
    run = _forward_backward_programs()
    recorder = OpRecorder()
    with recorder:
        run()
    assert "aten.mul.Tensor" in recorder.native_compute_ops()
    assert recorder.torchext_ops() == []


def test_enable_routes_operators_and_falls_through():
    a = torch.randn(3, 4)
    b = torch.randn(4)
    ints = torch.arange(4)
    recorder = OpRecorder()
    with torchext.enable(), recorder:
        r = [a + b, a - 1, 1 - a, 2 * a, a * b, a**2, a @ b, a.t(), a.sum(), a.sum(1, keepdim=True),
             torch.matmul(a, b), ints + 1, ints * ints]
        c = a.clone()
        c += b
        c *= 2
        c -= a
    assert {"torchext::add", "torchext::sub", "torchext::mul", "torchext::add_scalar",
            "torchext::rsub_scalar", "torchext::mul_scalar", "torchext::pow_scalar",
            "torchext::matmul", "torchext::sum"} <= set(recorder.torchext_ops())
    # integer tensors are native's
    assert {"aten.add.Tensor", "aten.mul.Tensor"} <= set(recorder.native_compute_ops())
    assert r[-2].dtype == torch.int64 and r[-2].tolist() == [1, 2, 3, 4]
    expected = [a + b, a - 1, 1 - a, 2 * a, a * b, a**2, a @ b, a.t(), a.sum(), a.sum(1, keepdim=True),
                torch.matmul(a, b)]
    for got, want in zip(r, expected):
        torch.testing.assert_close(got, want)
    torch.testing.assert_close(c, (a + b) * 2 - a)


def test_enable_in_place_on_leaf_requiring_grad_raises():
    a = torch.randn(3, requires_grad=True)
    with torchext.enable(), pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        a += 1
