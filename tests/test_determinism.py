"""Determinism: every op of the op table (forward and every input gradient, on the entry's
determinism samples) and a patched ResNet18 training step give bitwise identical results when run
again with the same thread count; with 1 and 2 threads the results agree bit for bit, or, where
the thread split reorders sums, within those sums' rounding bound.

Shapes are large enough that the kernels split their work across threads (elementwise chunks
above the 32768-element grain, several GEMM tiles, several conv images and channel planes).
"""
import pytest
import torch

from torchext import functional as F
from torchext.optable import BY_NAME, OPS, maker
from helpers import assert_within_rounding
from resnet_helpers import REL, assert_rel_close, batch, twins


def _cases():
    """Test id -> (op name, index) of every determinism sample in the op table."""
    cases = {}
    for entry in OPS:
        samples = entry.determinism(maker(torch.float32, "cpu"))
        for index, sample in enumerate(samples):
            cases[entry.name if len(samples) == 1 else f"{entry.name}-{sample.name}"] = (entry.name, index)
    return cases


CASES = _cases()
BCE = "binary_cross_entropy_with_logits"


def build(name):
    """The case's sample, the same on every call (each is built under the same seed)."""
    op, index = CASES[name]
    torch.manual_seed(0)
    return BY_NAME[op], BY_NAME[op].determinism(maker(torch.float32, "cpu"))[index]


@pytest.fixture
def threads():
    """Sets torch's thread count for a test and restores it afterwards."""
    saved = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(saved)


# Samples whose results depend on the thread count only through the order of their sums (a
# reduction, GEMM or batch split across threads) carry split_sum, the number of terms of the
# longest such sum. Each of those ops is linear in every tensor input, so the same op in float64 on
# |inputs| and |grad_out| gives every result's sums of absolute terms, which bound how far two
# orders of the float32 sums can differ (helpers.assert_within_rounding). The other samples split
# work by element, plane or shape-fixed unit, never a sum by thread, and must agree bit for bit;
# bce's mean is handled in the test.
BCE_TERMS = 300 * 257  # bce's forward: the mean of the elementwise losses


def run_op(name, absolute=False):
    """The op's output and input gradients; absolute=True runs it in float64 on the absolute values
    of the inputs and of the same grad_out."""
    entry, sample = build(name)
    inputs = list(sample.args)
    if absolute:
        inputs = [t.detach().abs().double().requires_grad_(t.requires_grad) if isinstance(t, torch.Tensor) else t
                  for t in inputs]
    out = entry.call(entry.op)(*inputs, **sample.kwargs)
    outs = out if isinstance(out, tuple) else (out,)
    grad_outs = [torch.randn(o.shape) for o in outs]
    grad_outs = [g.abs().double() for g in grad_outs] if absolute else grad_outs
    leaves = [t for t in inputs if isinstance(t, torch.Tensor) and t.requires_grad]
    return [*(o.detach() for o in outs), *torch.autograd.grad(outs, leaves, grad_outs)]


def bce_loss_magnitude():
    """The mean of |elementwise loss| of the bce case: its forward's sum of absolute terms."""
    _, sample = build(BCE)
    loss = F.binary_cross_entropy_with_logits(*sample.args, **sample.kwargs, reduction="none")
    return loss.detach().double().abs().mean()


@pytest.mark.parametrize("name", list(CASES))
def test_op_is_bitwise_reproducible(threads, name):
    threads(2)
    first, second = run_op(name), run_op(name)
    for i, (a, b) in enumerate(zip(first, second)):
        assert torch.equal(a, b), f"{name}: result {i} differs between two runs with the same threads"


@pytest.mark.parametrize("name", list(CASES))
def test_op_agrees_across_thread_counts(threads, name):
    threads(1)
    one = run_op(name)
    threads(2)
    two = run_op(name)
    split_sum = build(name)[1].split_sum
    if split_sum is not None:
        for a, b, magnitude in zip(one, two, run_op(name, absolute=True)):
            assert_within_rounding(b, a, magnitude, split_sum, torch.float32)
        return
    for i, (a, b) in enumerate(zip(one, two)):
        if name == BCE and i == 0:
            assert_within_rounding(b, a, bce_loss_magnitude(), BCE_TERMS, torch.float32)
        else:
            assert torch.equal(a, b), f"{name}: result {i} differs between 1 and 2 threads"


def resnet_step(num_threads):
    """One patched ResNet18 training step (forward, backward, torchext SGD step) from fixed
    weights and data: the loss, every gradient and every updated parameter and buffer."""
    import torchext
    torch.set_num_threads(num_threads)
    _, model = twins(seed=0)
    opt = torchext.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    data, labels = batch(2, 64)
    loss = F.binary_cross_entropy_with_logits(model(data), labels)
    loss.backward()
    grads = [p.grad.clone() for p in model.parameters()]
    opt.step()
    return [loss.detach(), *grads, *(p.detach() for p in model.parameters()),
            *(b for b in model.buffers() if b.is_floating_point())]


def test_resnet18_step_bitwise_reproducible_and_thread_count_close(threads):
    first, second = resnet_step(2), resnet_step(2)
    for i, (a, b) in enumerate(zip(first, second)):
        assert torch.equal(a, b), f"ResNet18 step: tensor {i} differs between two runs with 2 threads"
    one = resnet_step(1)
    for i, (a, b) in enumerate(zip(one, first)):
        # The step's float32 gradients pass through 20 layers of reductions split differently.
        assert_rel_close(b, a, REL[torch.float32], f"ResNet18 step: tensor {i}, 2 threads vs 1")
