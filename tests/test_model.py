"""ResNet18 patched with torchext against native ResNet18 from the same weights: the tutorial's
training step (outputs, loss, every gradient, BN running stats), SGD steps, eval, frozen-backbone
finetuning, no-grad, which ops run, torch.compile and DistributedDataParallel.

Tolerances (normwise relative error per tensor, resnet_helpers.REL): float32 1e-4, float64 1e-10.
"""
import copy
import os
import tempfile

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn
from torch.utils import benchmark

import torchext
from op_recorder import NON_COMPUTE, OpRecorder
from resnet_helpers import (REL, assert_models_close, assert_rel_close, batch, ddp_worker, free_port,
                            native_loss, resnet18, torchext_loss, twins)

# Forks in ResNet18's graph: each of the 8 blocks feeds its input to conv1 and to the residual
# (identity or downsample), so the autograd engine sums two gradients there (InputBuffer).
RESIDUAL_FORKS = 8
BATCH_NORMS = 20


def train_step(model, data, labels, loss_fn):
    prediction = model(data)
    loss = loss_fn(prediction, labels)
    loss.backward()
    return prediction.detach(), loss.detach()


def compare_step(dtype, n, size=64, training=True):
    native, ours = twins(dtype=dtype)
    native.train(training)
    ours.train(training)
    data, labels = batch(n, size, dtype=dtype)
    pa, la = train_step(ours, data, labels, torchext_loss)
    pb, lb = train_step(native, data, labels, native_loss)
    assert_rel_close(pa, pb, REL[dtype], "prediction")
    assert_rel_close(la, lb, REL[dtype], "loss")
    assert_models_close(ours, native, REL[dtype])


@pytest.mark.parametrize("n", [1, 4])
def test_train_step_matches_native_float32(n):
    compare_step(torch.float32, n)


def test_train_step_matches_native_float64():
    compare_step(torch.float64, 2)


def test_eval_step_matches_native():
    compare_step(torch.float32, 2, training=False)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_five_sgd_steps_match_native(dtype):
    native, ours = twins(dtype=dtype)
    opt_native = torch.optim.SGD(native.parameters(), lr=1e-2, momentum=0.9, foreach=False)
    opt_ours = torchext.optim.SGD(ours.parameters(), lr=1e-2, momentum=0.9)
    for step in range(5):
        data, labels = batch(2, 64, seed=step, dtype=dtype)
        for model, opt, loss_fn in ((ours, opt_ours, torchext_loss), (native, opt_native, native_loss)):
            opt.zero_grad()
            train_step(model, data, labels, loss_fn)
            opt.step()
    # Five steps compound the per-step float32 rounding differences.
    assert_models_close(ours, native, REL[dtype] * (10 if dtype == torch.float32 else 1))
    for p, q in zip(ours.parameters(), native.parameters()):
        assert_rel_close(opt_ours.state[p]["momentum_buffer"], opt_native.state[q]["momentum_buffer"],
                         REL[dtype] * (10 if dtype == torch.float32 else 1))


def test_no_grad_and_frozen_eval_record_no_graph():
    native, ours = twins()
    data, _ = batch(2, 32)
    with torch.no_grad():
        out, ref = ours(data), native(data)
    assert out.grad_fn is None and not out.requires_grad
    assert_rel_close(out, ref, REL[torch.float32], "prediction")
    assert_models_close(ours, native, REL[torch.float32], grads=False)  # BN stats still updated
    ours.eval()
    for p in ours.parameters():
        p.requires_grad_(False)
    out = ours(data)
    assert out.grad_fn is None and not out.requires_grad
    with torch.inference_mode():
        assert ours(data).grad_fn is None


def finetune_models(trainable=("fc",)):
    """Program 5: the backbone frozen, a new 10-class fc; names in `trainable` stay trainable."""
    native, ours = twins()
    torch.manual_seed(3)
    fc = nn.Linear(512, 10)
    for model in (native, ours):
        for name, p in model.named_parameters():
            p.requires_grad = name.startswith(trainable)
        model.fc = copy.deepcopy(fc)
    torchext.patch(ours)  # the new fc is native until patched again
    return native, ours


class BackwardRecorder(OpRecorder):
    """Also keeps the output_mask of every torchext conv2d/linear backward call."""

    def __init__(self):
        super().__init__()
        self.masks = {"conv2d_backward": [], "linear_backward": [], "batch_norm_backward": []}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func._schema.name.split("::")[-1]
        if func.namespace == "torchext" and name in self.masks:
            self.masks[name].append(tuple(args[-1]))
        return super().__torch_dispatch__(func, types, args, kwargs)


def run_finetune(native, ours, data_requires_grad=False):
    data, _ = batch(2, 64)
    labels = torch.rand(2, 10)
    data_a = data.clone().requires_grad_(data_requires_grad)
    data_b = data.clone().requires_grad_(data_requires_grad)
    recorder = BackwardRecorder()
    with recorder:
        train_step(ours, data_a, labels, torchext_loss)
    train_step(native, data_b, labels, native_loss)
    assert_models_close(ours, native, REL[torch.float32])
    if data_requires_grad:
        assert_rel_close(data_a.grad, data_b.grad, REL[torch.float32], "input grad")
    return recorder.masks


def test_program5_frozen_backbone_only_fc_gets_gradients():
    native, ours = finetune_models()
    masks = run_finetune(native, ours)
    assert [n for n, p in ours.named_parameters() if p.grad is not None] == ["fc.weight", "fc.bias"]
    # Nothing below fc needs a gradient, so backward stops at fc: no conv or BN backward at all.
    assert masks == {"conv2d_backward": [], "batch_norm_backward": [],
                     "linear_backward": [(False, True, True)]}


def test_frozen_convs_compute_no_weight_gradient():
    """All parameters frozen but the input needs its gradient (e.g. saliency maps): every conv
    backward computes the input gradient only."""
    native, ours = finetune_models(trainable=())
    masks = run_finetune(native, ours, data_requires_grad=True)
    assert masks["conv2d_backward"] == [(True, False, False)] * 20
    assert masks["batch_norm_backward"] == [(True, False, False)] * BATCH_NORMS
    assert masks["linear_backward"] == [(True, False, False)]


def test_partly_frozen_backbone():
    """layer4 and fc trainable: backward reaches layer4's 5 convs only; the two that read frozen
    layer3's output compute no input gradient."""
    native, ours = finetune_models(trainable=("layer4", "fc"))
    masks = run_finetune(native, ours)
    convs = masks["conv2d_backward"]
    assert len(convs) == 5 and all(m[1] for m in convs)
    assert sorted(m[0] for m in convs) == [False, False, True, True, True]


def backward_ms(model, data, labels):
    def run():
        model.zero_grad(set_to_none=True)
        torchext_loss(model(data), labels).backward()
    forward_only = benchmark.Timer("torchext_loss(model(data), labels)",
                                   globals=dict(torchext_loss=torchext_loss, model=model, data=data,
                                                labels=labels)).blocked_autorange(min_run_time=0.5)
    total = benchmark.Timer("run()", globals={"run": run}).blocked_autorange(min_run_time=0.5)
    return (total.median - forward_only.median) * 1e3


def test_frozen_backbone_saves_backward_time(capsys):
    """Measured: backward of the Program 5 model (frozen backbone) and of the frozen-convs model
    with an input gradient, against the fully trainable model. The frozen backbone's backward
    is fc's alone, so it must be far cheaper; the others are reported."""
    data, _ = batch(4, 64)
    labels = torch.rand(4, 10)
    _, full = finetune_models(trainable=("",))
    _, frozen = finetune_models()
    _, input_grad_only = finetune_models(trainable=())
    data_grad = data.clone().requires_grad_()
    times = {"trainable": backward_ms(full, data, labels),
             "frozen backbone": backward_ms(frozen, data, labels),
             "frozen, input grad": backward_ms(input_grad_only, data_grad, labels)}
    with capsys.disabled():
        print("\nResNet18 backward at 4x3x64x64, ms: " + ", ".join(f"{k} {v:.1f}" for k, v in times.items()))
    assert times["frozen backbone"] < 0.25 * times["trainable"]


def test_only_torchext_ops_compute_in_a_patched_training_step():
    """Every aten op seen in forward, backward and the optimizer step is allocation, view, copy
    or fill (tests/op_recorder.NON_COMPUTE), except these, each counted exactly:
    - forward: aten.add_.Tensor on the int64 num_batches_tracked counter, once per BatchNorm2d
      (native's own counter increment; torchext kernels compute floats);
    - backward: aten.add.Tensor, the autograd engine summing the two gradients at each residual
      fork (it is the engine's accumulation, not the model's compute);
    - the profiler's record_function markers around Optimizer.step."""
    model = torchext.patch(resnet18())
    opt = torchext.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    data, labels = batch(2, 32)
    phases = {}
    for step in range(2):
        for phase in ("forward", "backward", "step"):
            phases[(step, phase)] = OpRecorder()
        opt.zero_grad()
        with phases[(step, "forward")]:
            loss = torchext_loss(model(data), labels)
        with phases[(step, "backward")]:
            loss.backward()
        with phases[(step, "step")]:
            opt.step()

    def unexplained(recorder, allowed):
        return sorted({str(op) for op in recorder.ops if op.namespace != "torchext"
                       and not (op.namespace == "aten" and op._schema.name[6:] in NON_COMPUTE)
                       and str(op) not in allowed})

    for step in range(2):
        forward, backward, optim = (phases[(step, p)] for p in ("forward", "backward", "step"))
        assert unexplained(forward, {"aten.add_.Tensor"}) == []
        assert unexplained(backward, {"aten.add.Tensor"}) == []
        assert unexplained(optim, {"profiler._record_function_enter_new.default",
                                   "profiler._record_function_exit._RecordFunction"}) == []
        assert sum(str(op) == "aten.add_.Tensor" for op in forward.ops) == BATCH_NORMS
        assert sum(str(op) == "aten.add.Tensor" for op in backward.ops) == RESIDUAL_FORKS
        assert [op for op in optim.ops if op.namespace == "torchext"] == [torchext.ops.sgd_step_.default]
        assert {"torchext::conv2d", "torchext::batch_norm", "torchext::relu_", "torchext::max_pool2d",
                "torchext::add_relu", "torchext::adaptive_avg_pool2d", "torchext::linear",
                "torchext::sub", "torchext::sum"} <= set(forward.torchext_ops())
        assert {"torchext::conv2d_backward", "torchext::batch_norm_backward",
                "torchext::relu_backward", "torchext::max_pool2d_backward",
                "torchext::adaptive_avg_pool2d_backward",
                "torchext::linear_backward"} <= set(backward.torchext_ops())
    assert all(m.num_batches_tracked.dtype == torch.int64 for m in model.modules()
               if isinstance(m, nn.BatchNorm2d))


def test_torch_compile_matches_eager():
    """torch.compile (backend aot_eager: traces through the fake kernels and runs our kernels;
    inductor's C++ compile of a whole ResNet is too slow for this test machine), fullgraph."""
    torch._dynamo.reset()
    _, eager = twins()
    compiled_model = copy.deepcopy(eager)
    compiled = torch.compile(compiled_model, backend="aot_eager", fullgraph=True)
    data, labels = batch(2, 32)
    pa, la = train_step(compiled, data, labels, torchext_loss)
    pb, lb = train_step(eager, data, labels, torchext_loss)
    assert_rel_close(pa, pb, REL[torch.float32], "prediction")
    assert_models_close(compiled_model, eager, REL[torch.float32])


def test_ddp_averages_gradients_like_one_process():
    """Two gloo processes, each the patched model on half the batch: DDP's averaged gradient
    times 2 equals one process's gradient over the full batch (the loss is a sum). BatchNorm in
    eval mode, since in training each process would normalise with its own half's statistics.
    float64, so the comparison is tight."""
    world_size = 2
    dtype = torch.float64
    native = resnet18(dtype=dtype)
    data, labels = batch(4, 32, dtype=dtype)
    reference = torchext.patch(copy.deepcopy(native)).eval()
    torchext_loss(reference(data), labels).backward()
    with tempfile.TemporaryDirectory() as out_dir:
        mp.spawn(ddp_worker, args=(world_size, free_port(), native.state_dict(), data, labels, out_dir),
                 nprocs=world_size, join=True)
        results = [torch.load(os.path.join(out_dir, f"grads{r}.pt")) for r in range(world_size)]
    for name, p in reference.named_parameters():
        assert torch.equal(results[0][name], results[1][name]), name  # allreduce gives both the same
        assert_rel_close(results[0][name] * world_size, p.grad, REL[dtype], name)


def test_bottleneck_resnet_matches_native():
    """torchvision's Bottleneck blocks (ResNet50's) are patched too; a one-block-per-stage net."""
    from torchvision.models.resnet import Bottleneck, ResNet
    torch.manual_seed(0)
    native = ResNet(Bottleneck, [1, 1, 1, 1], num_classes=10)
    ours, report = torchext.patch(copy.deepcopy(native), return_report=True)
    assert report.patched["Bottleneck"] == 4 and report.native == {}
    data, labels = batch(2, 32, classes=10)
    pa, _ = train_step(ours, data, labels, torchext_loss)
    pb, _ = train_step(native, data, labels, native_loss)
    assert_rel_close(pa, pb, REL[torch.float32], "prediction")
    assert_models_close(ours, native, REL[torch.float32])


def test_block_with_another_activation_adds_then_applies_it():
    """A block whose relu module was replaced keeps torchvision's semantics: act(out + identity)."""
    native, ours = twins()
    native.layer1[0].relu = nn.Tanh()
    ours.layer1[0].relu = nn.Tanh()
    data, labels = batch(2, 32)
    pa, _ = train_step(ours, data, labels, torchext_loss)
    pb, _ = train_step(native, data, labels, native_loss)
    assert_rel_close(pa, pb, REL[torch.float32], "prediction")
    assert_models_close(ours, native, REL[torch.float32])
