"""ResNet18 patched with torchext against native ResNet18 from the same weights: the tutorial's
training step (outputs, loss, every gradient, BN running stats), SGD steps, eval, frozen-backbone
finetuning, no-grad, which ops run, torch.compile and DistributedDataParallel.

Tolerances (normwise relative error per tensor, see resnet_helpers): float64 models are
compared with native float64 at 1e-10. float32 models are compared through native float64 (the
truth): within 1e-4 of it, or no further from it than 4x native float32 is, since some float32
results are ill-conditioned and native float32 is itself off by 1e-2 there.

Inputs of 32x32 use batch 4, never 2: layer4 is then 1x1, and BatchNorm over 2 values per channel
gives exactly +-1 in both residual branches at initialisation, so relu(out + identity) is decided
by the last bit of the sum; one ulp flips whole channels of gradient, natively as well.
"""
import copy
import os
import statistics
import tempfile
import time

import pytest
import torch
import torch.multiprocessing as mp
from torch import nn

import torchext
from torchext.recorder import NON_COMPUTE, OpRecorder
from resnet_helpers import (REL, Trio, assert_accurate, assert_models_close, assert_rel_close,
                            batch, ddp_worker, free_port, resnet18, torchext_loss, twins)

# Forks in ResNet18's graph: each of the 8 blocks feeds its input to conv1 and to the residual
# (identity or downsample), so the autograd engine sums two gradients there (InputBuffer).
RESIDUAL_FORKS = 8
BATCH_NORMS = 20


def train_step(model, data, labels, loss_fn):
    prediction = model(data)
    loss = loss_fn(prediction, labels)
    loss.backward()
    return prediction.detach(), loss.detach()


def step_all(trio, data, labels):
    """The training step on each model of the trio; checks predictions and losses."""
    results = [train_step(model, data.to(dtype), labels.to(dtype), loss_fn)
               for model, dtype, loss_fn in trio.runs()]
    trio.check([p for p, _ in results], "prediction")
    trio.check([loss for _, loss in results], "loss")


def compare_step(dtype, n, size=64, training=True):
    trio = Trio(resnet18(), dtype)
    for model in trio.models():
        model.train(training)
    step_all(trio, *batch(n, size))
    trio.check_models()


@pytest.mark.parametrize("n", [1, 4])
def test_train_step_matches_native_float32(n):
    compare_step(torch.float32, n)


def test_train_step_matches_native_float64():
    compare_step(torch.float64, 2)


def test_eval_step_matches_native():
    compare_step(torch.float32, 2, training=False)


def sgd_steps(trio, steps=5):
    optimizers = [torchext.optim.SGD(trio.ours.parameters(), lr=1e-2, momentum=0.9)]
    optimizers += [torch.optim.SGD(m.parameters(), lr=1e-2, momentum=0.9, foreach=False)
                   for m in trio.models()[1:]]
    for step in range(steps):
        data, labels = batch(2, 64, seed=step)
        for (model, dtype, loss_fn), opt in zip(trio.runs(), optimizers):
            opt.zero_grad()
            train_step(model, data.to(dtype), labels.to(dtype), loss_fn)
            opt.step()
    return [[opt.state[p]["momentum_buffer"] for p in model.parameters()]
            for model, opt in zip(trio.models(), optimizers)]


def test_five_sgd_steps_match_native_float64():
    trio = Trio(resnet18(), torch.float64)
    buffers = sgd_steps(trio)
    trio.check_models()
    for name, ours, native in zip(dict(trio.ours.named_parameters()), *buffers):
        assert_rel_close(ours, native, REL[torch.float64], name + " momentum_buffer")


def test_five_sgd_steps_match_native_float32():
    """Training with the tutorial's sum loss is chaotic: after a few float32 steps native float32
    itself is far from float64 on some tensors, so the whole state (every weight and momentum
    buffer, concatenated) is judged against the float64 run."""
    trio = Trio(resnet18(), torch.float32)
    buffers = sgd_steps(trio)
    flat = [torch.cat([t.double().flatten() for t in list(m.parameters()) + bufs])
            for m, bufs in zip(trio.models(), buffers)]
    assert_accurate(*flat, "weights and momentum buffers after 5 steps")


def test_no_grad_and_frozen_eval_record_no_graph():
    trio = Trio(resnet18())
    data, _ = batch(4, 32)
    with torch.no_grad():
        outs = [model(data.to(dtype)) for model, dtype, _ in trio.runs()]
    assert outs[0].grad_fn is None and not outs[0].requires_grad
    trio.check(outs, "prediction")
    trio.check_models(grads=False)  # BN running stats are still updated, as native
    ours = trio.ours.eval()
    for p in ours.parameters():
        p.requires_grad_(False)
    out = ours(data)
    assert out.grad_fn is None and not out.requires_grad
    with torch.inference_mode():
        assert ours(data).grad_fn is None


def finetune_models(trainable=("fc",)):
    """Program 5 on a patched model: the backbone frozen, then a new 10-class fc (native until
    patched again); parameters whose names start with one of `trainable` are trainable."""
    trio = Trio(resnet18())
    torch.manual_seed(3)
    fc = nn.Linear(512, 10)
    for model in trio.models():
        for p in model.parameters():
            p.requires_grad = False
        model.fc = copy.deepcopy(fc).to(model.conv1.weight.dtype)
        for name, p in model.named_parameters():
            p.requires_grad = name.startswith(trainable)
    torchext.patch(trio.ours)
    return trio


class BackwardRecorder(OpRecorder):
    """Also keeps the output_mask of every torchext conv2d/linear backward call."""

    def __init__(self):
        super().__init__()
        self.masks = {"conv2d_backward": [], "linear_backward": [], "batch_norm_backward": [],
                      "batch_norm_relu_backward": []}

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        name = func._schema.name.split("::")[-1]
        if func.namespace == "torchext" and name in self.masks:
            self.masks[name].append(tuple(args[-1]))
        return super().__torch_dispatch__(func, types, args, kwargs)


def run_finetune(trio, data_requires_grad=False):
    data, _ = batch(2, 64)
    labels = torch.rand(2, 10)
    inputs = [data.to(dtype, copy=True).requires_grad_(data_requires_grad)
              for _, dtype, _ in trio.runs()]
    recorder = BackwardRecorder()
    with recorder:
        train_step(trio.ours, inputs[0], labels, torchext_loss)
    for (model, dtype, loss_fn), x in list(zip(trio.runs(), inputs))[1:]:
        train_step(model, x, labels.to(dtype), loss_fn)
    trio.check_models()
    if data_requires_grad:
        trio.check([x.grad for x in inputs], "input grad")
    return recorder.masks


def test_program5_frozen_backbone_only_fc_gets_gradients():
    trio = finetune_models()
    masks = run_finetune(trio)
    with_grad = [n for n, p in trio.ours.named_parameters() if p.grad is not None]
    assert with_grad == ["fc.weight", "fc.bias"]
    # Nothing below fc needs a gradient, so backward stops at fc: no conv or BN backward at all.
    assert masks == {"conv2d_backward": [], "batch_norm_backward": [], "batch_norm_relu_backward": [],
                     "linear_backward": [(False, True, True)]}


def test_frozen_convs_compute_no_weight_gradient():
    """All parameters frozen but the input needs its gradient (e.g. saliency maps): every conv
    backward computes the input gradient only."""
    masks = run_finetune(finetune_models(trainable=()), data_requires_grad=True)
    assert masks["conv2d_backward"] == [(True, False, False)] * 20
    # The 3 downsample batch norms run alone; the other 17 are fused with their relu, 8 of them
    # also with the block's residual (whose gradient is then needed too).
    assert masks["batch_norm_backward"] == [(True, False, False)] * 3
    assert sorted(masks["batch_norm_relu_backward"]) == sorted(
        [(True, False, False, False)] * 9 + [(True, True, False, False)] * 8)
    assert 3 + 17 == BATCH_NORMS
    assert masks["linear_backward"] == [(True, False, False)]


def test_partly_frozen_backbone():
    """layer4 and fc trainable: backward reaches layer4's 5 convs only; the two that read frozen
    layer3's output compute no input gradient."""
    masks = run_finetune(finetune_models(trainable=("layer4", "fc")))
    convs = masks["conv2d_backward"]
    assert len(convs) == 5 and all(m[1] for m in convs)
    assert sorted(m[0] for m in convs) == [False, False, True, True, True]


def backward_ms(model, data, labels, runs=7):
    """Median time of loss.backward() alone (CPU work is synchronous, so a wall clock around it
    measures it; the forward that builds each graph is not timed)."""
    times = []
    for _ in range(runs):
        model.zero_grad(set_to_none=True)
        loss = torchext_loss(model(data), labels)
        start = time.perf_counter()
        loss.backward()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e3


def test_frozen_backbone_saves_backward_time(capsys):
    """Measured: backward of the Program 5 model (frozen backbone) and of the frozen-convs model
    with an input gradient, against the fully trainable model. The frozen backbone's backward
    is fc's alone, so it must be far cheaper; the others are reported."""
    data, _ = batch(4, 64)
    labels = torch.rand(4, 10)
    full = finetune_models(trainable=("",)).ours
    frozen = finetune_models().ours
    input_grad_only = finetune_models(trainable=()).ours
    data_grad = data.clone().requires_grad_()
    times = {"trainable": backward_ms(full, data, labels),
             "frozen backbone": backward_ms(frozen, data, labels),
             "frozen, input grad": backward_ms(input_grad_only, data_grad, labels)}
    with capsys.disabled():
        print("\nResNet18 backward at 4x3x64x64, ms: "
              + ", ".join(f"{k} {v:.1f}" for k, v in times.items()))
    assert times["frozen backbone"] < 0.25 * times["trainable"]


class FirstArgRecorder(OpRecorder):
    """Also keeps the data pointer of each op's first tensor argument (None otherwise)."""

    def __init__(self):
        super().__init__()
        self.first_args = []

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):
        first = args[0] if args and isinstance(args[0], torch.Tensor) else None
        self.first_args.append(None if first is None else first.data_ptr())
        return super().__torch_dispatch__(func, types, args, kwargs)


def test_only_torchext_ops_compute_in_a_patched_training_step():
    """Every aten op seen in forward, backward and the optimizer step is allocation, view, copy
    or fill (torchext.recorder.NON_COMPUTE), except these, each counted exactly:
    - forward: aten.add_.Tensor on the int64 num_batches_tracked counter, once per BatchNorm2d
      (native's own counter increment; torchext kernels compute floats);
    - backward: aten.add.Tensor, the autograd engine summing the two gradients at each residual
      fork (it is the engine's accumulation, not the model's compute);
    - the profiler's record_function markers around Optimizer.step."""
    model = torchext.patch(resnet18())
    opt = torchext.optim.SGD(model.parameters(), lr=1e-2, momentum=0.9)
    counters = sorted(m.num_batches_tracked.data_ptr() for m in model.modules()
                      if isinstance(m, nn.BatchNorm2d))
    assert len(counters) == BATCH_NORMS
    data, labels = batch(2, 32)
    phases = {}
    for step in range(2):
        for phase in ("forward", "backward", "step"):
            phases[(step, phase)] = FirstArgRecorder()
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
        increments = [t for op, t in zip(forward.ops, forward.first_args)
                      if str(op) == "aten.add_.Tensor"]
        assert sorted(increments) == counters  # each BN's num_batches_tracked, once
        assert sum(str(op) == "aten.add.Tensor" for op in backward.ops) == RESIDUAL_FORKS
        fused = [op for op in optim.ops if op.namespace == "torchext"]
        assert fused == [torchext.ops.sgd_step_.default]
        # Every relu follows a batch norm and runs fused with it (downsample BNs run alone).
        assert set(forward.torchext_ops()) == {
            "torchext::conv2d", "torchext::batch_norm", "torchext::batch_norm_relu",
            "torchext::max_pool2d", "torchext::adaptive_avg_pool2d", "torchext::linear",
            "torchext::sub", "torchext::sum"}
        assert set(backward.torchext_ops()) == {
            "torchext::conv2d_backward", "torchext::batch_norm_backward",
            "torchext::batch_norm_relu_backward", "torchext::max_pool2d_backward",
            "torchext::adaptive_avg_pool2d_backward", "torchext::linear_backward"}
    assert all(int(m.num_batches_tracked) == 2 for m in model.modules()
               if isinstance(m, nn.BatchNorm2d))


@pytest.mark.parametrize("backend", ["aot_eager", "inductor"])
def test_torch_compile_matches_eager(backend):
    """torch.compile(fullgraph=True: the patched ResNet18 traces without a graph break) through
    the fake kernels; forward, backward and BN running stats equal eager. aot_eager runs the
    traced graph as is; inductor generates code around our ops (40-55 s to compile on the shared
    2-core test machine). Observed equal to the last bit; the check allows float32 rounding in
    case a backend reorders native glue."""
    torch._dynamo.reset()
    _, eager = twins()
    compiled_model = copy.deepcopy(eager)
    compiled = torch.compile(compiled_model, backend=backend, fullgraph=True)
    data, labels = batch(4, 32)
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
        args = (world_size, free_port(), native.state_dict(), data, labels, out_dir)
        mp.spawn(ddp_worker, args=args, nprocs=world_size, join=True)
        results = [torch.load(os.path.join(out_dir, f"grads{r}.pt")) for r in range(world_size)]
    for name, p in reference.named_parameters():
        assert torch.equal(results[0][name], results[1][name]), name  # both got the same average
        assert_rel_close(results[0][name] * world_size, p.grad, REL[dtype], name)


def test_bottleneck_resnet_matches_native():
    """torchvision's Bottleneck blocks (ResNet50's) are patched too; a one-block-per-stage net."""
    from torchvision.models.resnet import Bottleneck, ResNet
    torch.manual_seed(0)
    trio = Trio(ResNet(Bottleneck, [1, 1, 1, 1], num_classes=10))
    _, report = torchext.patch(trio.ours, return_report=True)
    assert report.patched["Bottleneck"] == 4 and report.native == {}
    step_all(trio, *batch(4, 32, classes=10))
    trio.check_models()


def test_block_with_another_activation_adds_then_applies_it():
    """A block whose relu module was replaced keeps torchvision's semantics: act(out + identity)."""
    trio = Trio(resnet18())
    for model in trio.models():
        model.layer1[0].relu = nn.Tanh()
    step_all(trio, *batch(4, 32))
    trio.check_models()
