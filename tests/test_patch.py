"""torchext.patch / unpatch mechanics and the torchext.nn modules: what is swapped, what stays
native (and is named), identity of parameters and buffers, hooks, optimizers, devices and dtypes,
idempotence, and each module's parity with its torch.nn original."""
import copy
import io
import warnings

import pytest
import torch
import torchvision
from torch import nn

import torchext
from torchext.recorder import OpRecorder
from resnet_helpers import resnet18

RESNET18_COUNTS = {"Conv2d": 20, "BatchNorm2d": 20, "ReLU": 9, "MaxPool2d": 1,
                   "AdaptiveAvgPool2d": 1, "Linear": 1, "BasicBlock": 8, "ResNet": 1}


def patch_quietly(model):
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # ResNet18 must patch without any warning
        return torchext.patch(model, return_report=True)


def test_resnet18_every_module_is_swapped():
    model = resnet18()
    originals = {name: type(m) for name, m in model.named_modules()}
    patched, report = patch_quietly(model)
    assert patched is model
    assert report.patched == RESNET18_COUNTS and report.native == {}
    for name, module in model.named_modules():
        if originals[name] in (nn.Sequential,):
            assert type(module) is nn.Sequential
        else:
            assert type(module).__module__ in ("torchext.nn", "torchext.resnet"), name
            assert isinstance(module, originals[name]), name  # still a torch.nn / torchvision type
    assert "ResNet x1" in str(report)


def test_parameters_buffers_and_state_dict_are_the_same_objects():
    model = resnet18()
    params = {n: p for n, p in model.named_parameters()}
    buffers = {n: b for n, b in model.named_buffers()}
    state = {k: v.clone() for k, v in model.state_dict().items()}
    torchext.patch(model)
    assert {n: id(p) for n, p in model.named_parameters()} == {n: id(p) for n, p in params.items()}
    assert {n: id(b) for n, b in model.named_buffers()} == {n: id(b) for n, b in buffers.items()}
    after = model.state_dict()
    assert list(after) == list(state)
    assert all(torch.equal(after[k], state[k]) for k in state)
    assert repr(model) == repr(torchext.unpatch(copy.deepcopy(model)))


def test_patch_twice_is_harmless_and_unpatch_restores_native_classes():
    model = resnet18()
    reference = copy.deepcopy(model)
    _, first = patch_quietly(model)
    _, second = patch_quietly(model)
    assert first == second
    assert torchext.unpatch(model) is model
    for (name, m), (_, r) in zip(model.named_modules(), reference.named_modules()):
        assert type(m) is type(r), name
    torchext.unpatch(model)  # twice is harmless too
    data = torch.rand(2, 3, 32, 32)
    recorder = OpRecorder()
    with recorder:
        out = model(data)
    assert recorder.torchext_ops() == []
    assert torch.equal(out, reference(data))


def test_module_assigned_after_patching_is_native_until_patched_again():
    model = torchext.patch(resnet18())
    model.fc = nn.Linear(512, 10)
    assert type(model.fc) is nn.Linear
    _, report = patch_quietly(model)
    assert type(model.fc) is torchext.nn.Linear and report.patched["Linear"] == 1


def test_unsupported_configurations_stay_native_and_other_modules_are_routed():
    class MyConv(nn.Conv2d):
        pass

    model = nn.Sequential(nn.Conv2d(3, 4, 3, padding=1, padding_mode="reflect"), MyConv(4, 4, 1),
                          nn.ELU(), nn.Identity(), nn.Conv2d(4, 4, 1), nn.Sequential(nn.ReLU()))
    with pytest.warns(UserWarning, match=r"1 module\(s\) stay native") as caught:
        _, report = torchext.patch(model, return_report=True)
    assert "0 (padding_mode='reflect'" in str(caught[0].message)
    assert set(report.native) == {"0"}
    assert type(model[0]) is nn.Conv2d
    # A subclass torchext does not know and a module without a mirror keep their own forward,
    # run under torchext.enable(); containers and Identity are left as they are.
    assert type(model[1]).__bases__ == (MyConv,) and type(model[2]).__bases__ == (nn.ELU,)
    assert type(model[3]) is nn.Identity and type(model) is nn.Sequential
    assert type(model[4]) is torchext.nn.Conv2d and type(model[5][0]) is torchext.nn.ReLU
    assert report.patched == {"Conv2d": 1, "ReLU": 1} and report.routed == {"MyConv": 1, "ELU": 1}
    assert "routed through torchext.enable(): ELU x1, MyConv x1" in str(report)
    recorder = OpRecorder()
    with recorder:
        model(torch.rand(1, 3, 5, 5))
    assert "torchext::conv2d" in recorder.torchext_ops()  # MyConv's forward calls F.conv2d: routed
    torchext.unpatch(model)
    assert [type(m) for m in model] == [nn.Conv2d, MyConv, nn.ELU, nn.Identity, nn.Conv2d, nn.Sequential]


class Residual(nn.Module):
    """A block whose forward does its own arithmetic, as torchvision's blocks do."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x):
        return torch.relu(self.conv(x) + x * 0.5)


def test_routed_forward_computes_on_torchext_and_matches_native():
    native = nn.Sequential(Residual(), Residual())
    model = torchext.patch(copy.deepcopy(native))
    data = torch.rand(2, 3, 6, 6, dtype=torch.float64)
    native.double(), model.double()
    recorder = OpRecorder()
    with recorder:
        out = model(data)
    assert recorder.native_compute_ops() == []
    assert {"torchext::add", "torchext::mul_scalar", "torchext::relu"} <= set(recorder.torchext_ops())
    torch.testing.assert_close(out, native(data), rtol=1e-12, atol=1e-12)
    assert isinstance(model[0], Residual) and repr(model) == repr(native)


def test_routed_modules_nest_hook_and_survive_pickling_in_a_new_process(tmp_path):
    import subprocess
    import sys
    model = torchvision.models.squeezenet1_1(num_classes=4).eval()
    seen = []
    hook = model.features[3].register_forward_hook(lambda m, i, o: seen.append(type(m).__name__))
    _, report = torchext.patch(model, return_report=True)
    assert report.routed["Fire"] == 8 and report.routed["SqueezeNet"] == 1
    data = torch.rand(1, 3, 48, 48)
    out = model(data)
    assert seen == ["Fire"]
    hook.remove()  # a lambda does not pickle
    path = tmp_path / "model.pt"
    torch.save(model, path)
    code = ("import torch, torchext; m = torch.load(%r, weights_only=False); "
            "print(type(m.features[3]).__module__, isinstance(m.features[3], "
            "__import__('torchvision').models.squeezenet.Fire)); "
            "torch.save(m(torch.load(%r)), %r)") % (str(path), str(tmp_path / "x.pt"), str(tmp_path / "y.pt"))
    torch.save(data, tmp_path / "x.pt")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.split() == ["torchext.patch", "True"]
    assert torch.equal(torch.load(tmp_path / "y.pt"), out)
    assert type(copy.deepcopy(model).features[3]) is type(model.features[3])


def test_configuration_changed_after_patching_is_switched_back():
    conv = torchext.patch(nn.Conv2d(3, 4, 3))
    conv.padding_mode = "circular"
    with pytest.warns(UserWarning, match="padding_mode='circular'"):
        torchext.patch(conv)
    assert type(conv) is nn.Conv2d


def test_unpatch_leaves_user_subclasses_of_torchext_modules():
    class Mine(torchext.nn.Linear):
        pass

    model = nn.Sequential(Mine(3, 3), torchext.nn.Linear(3, 3))
    _, report = patch_quietly(model)
    assert report.patched == {"Mine": 1, "Linear": 1}
    torchext.unpatch(model)
    assert type(model[0]) is Mine and type(model[1]) is nn.Linear


def test_patch_rejects_non_modules():
    with pytest.raises(TypeError, match="torchext.patch expects an nn.Module"):
        torchext.patch(lambda x: x)


def test_deepcopy_pickle_to_and_modes_keep_the_patch():
    model = torchext.patch(resnet18())
    buffer = io.BytesIO()
    torch.save(model, buffer)
    buffer.seek(0)
    loaded = torch.load(buffer, weights_only=False)
    for m in (copy.deepcopy(model), loaded, model.to(torch.float64)):
        assert type(m.conv1) is torchext.nn.Conv2d
        assert type(m.layer1[0]) is torchext.resnet.BasicBlock
    assert model.conv1.weight.dtype == torch.float64
    model.eval()
    assert not any(m.training for m in model.modules())
    model.train()
    assert all(m.training for m in model.modules())


def test_patch_costs_little():
    import timeit
    model = torchext.patch(resnet18())
    seconds = min(timeit.repeat(lambda: torchext.patch(model), number=10, repeat=3)) / 10
    assert seconds < 0.05, f"re-patching ResNet18 took {seconds * 1e3:.1f} ms"
