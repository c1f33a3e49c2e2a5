"""torchvision classification models (ResNet's grouped-convolution variants are RegNet's case),
patched with torchext.patch, against the native model from the same weights
(torchext/coverage.py runs the same step on every model). One test per model, so that the
models are built once:
- no native compute: with dropout and stochastic depth active, the forward and the loss run only
  torchext compute ops, and the backward only torchext's plus the autograd engine's own sums of
  the gradients of tensors used more than once (at most engine_gradient_sums of them: an edge whose gradient is None needs none);
- float32: the error against native float64, over the output and every gradient together, is at
  most 2x native float32's, in eval mode with Winograd off (torchext.backends.cpu.allow_winograd,
  the switch that restores the 2x bound), on an input whose float32 steps take float64's branch at
  every kink (relu's side of 0, max pooling's argmax; coverage.kinks_agree), as gradcheck needs
  inputs away from kinks: one ReLU input within rounding of 0 that flips on one side only moves
  the gradients upstream of it by up to 1e-4 (DenseNet) and makes the ratio luck. Eval mode: in
  training mode BatchNorm over 4 samples of 2x2 maps makes the step chaotic (ratios 0.0-38 over
  seeds for DenseNet and GoogLeNet);
- float64: the output, every parameter gradient and every buffer after a training step equal
  native's (normwise 1e-10, with an absolute floor for gradients whose exact value is 0: a conv
  bias before a BatchNorm gets rounding noise).
"""
import copy
import warnings

import pytest
import torch

import torchext
from torchext import coverage
from torchext.recorder import OpRecorder, engine_gradient_sums

# One model per family (ResNeXt and Wide ResNet are ResNet's blocks; ViT, Swin and MaxViT are
# the transformers' issue).
FAMILIES = ["alexnet", "vgg11_bn", "resnet18", "squeezenet1_1", "densenet121", "googlenet", "inception_v3",
            "mobilenet_v2", "mobilenet_v3_small", "mnasnet0_5", "shufflenet_v2_x0_5", "efficientnet_b0",
            "efficientnet_v2_s", "regnet_x_400mf", "regnet_y_400mf", "convnext_tiny"]
BATCH = 4
# Inputs tried for one whose float32 steps (ours and native) take float64's branch at every kink.
KINK_FREE_TRIES = 8


def twins(name):
    native, size = coverage.build(name, 64)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # every module patches or routes: nothing stays native
        ours = torchext.patch(copy.deepcopy(native))
    torch.manual_seed(1)
    data, target = torch.randn(BATCH, 3, size, size), torch.randn(BATCH, 10)
    return native.train(), ours.train(), data, target


@pytest.mark.parametrize("name", FAMILIES)
def test_training_step_on_torchext_only_and_native_values(name):
    native, ours, data, target = twins(name)
    # No native compute, dropout and stochastic depth active.
    counters = [b for b in ours.buffers() if not b.is_floating_point()]
    forward, backward = OpRecorder(), OpRecorder()
    with forward:
        output = ours(data)
        with torchext.enable():
            loss = coverage._loss(output, target)
    sums = engine_gradient_sums(loss)
    with backward:
        loss.backward()
    assert forward.native_compute_counts(counters=counters) == {}
    grads = [p.grad for p in ours.parameters() if p.grad is not None]
    left = backward.native_compute_counts(grads)
    engine = left.pop("aten.add.Tensor", 0) + left.pop("aten.add_.Tensor", 0)
    assert dict(left) == {} and engine <= sums  # an edge whose gradient is None needs no sum
    # float32 error against native float64, both models from the same state.
    native.load_state_dict(ours.state_dict())
    native.eval(), ours.eval()
    with torchext.backends.cpu.flags(allow_winograd=False):
        for seed in range(KINK_FREE_TRIES):
            torch.manual_seed(100 + seed)
            clean = torch.randn(data.shape), torch.randn(target.shape)
            if coverage.kinks_agree(ours, native, *clean):
                break
        else:
            pytest.fail(f"{name}: no input of {KINK_FREE_TRIES} kept every kink's branch in float32")
        error, native_error = coverage._parity(ours, native, *clean)
    native.train(), ours.train()
    assert error <= 2 * native_error, f"{name}: {error:.2e} vs native float32's {native_error:.2e}"
    # float64: equal to native's (from the same state again: the steps above moved the running
    # statistics of each model differently).
    native.load_state_dict(ours.state_dict())
    for model in (native, ours):
        coverage._no_randomness(model)
        model.double()
    out_native, _ = coverage._step(native, data.double(), target.double(), routed=False)
    out_ours, _ = coverage._step(ours, data.double(), target.double(), routed=True)
    _assert_close_with_floor({"output": out_ours}, {"output": out_native})
    grads = {f"{n}.grad": p.grad for n, p in native.named_parameters() if p.grad is not None}
    ours_grads = {f"{n}.grad": p.grad for n, p in ours.named_parameters() if p.grad is not None}
    assert ours_grads.keys() == grads.keys()
    _assert_close_with_floor(ours_grads, grads)
    _assert_close_with_floor(dict(ours.named_parameters()), dict(native.named_parameters()))
    _assert_close_with_floor(dict(ours.named_buffers()), dict(native.named_buffers()))


def _assert_close_with_floor(ours, native):
    """Normwise 1e-10 per tensor, with an absolute floor of 1e-12 of the group's largest norm: a
    value whose exact result is 0 (a conv bias's gradient, or the running mean, where a BatchNorm's
    zero-mean output feeds a 1x1 convolution and then another BatchNorm) is rounding noise on both
    sides."""
    floor = 1e-12 * max((t.detach().double().norm().item() for t in native.values() if t.is_floating_point()),
                        default=0.0)
    for name, b in native.items():
        a = ours[name].detach()
        if not b.is_floating_point():
            assert torch.equal(a, b), name
            continue
        error = (a.double() - b.detach().double()).norm().item()
        assert error <= 1e-10 * b.detach().double().norm().item() + floor, f"{name}: error {error:.2e}"
