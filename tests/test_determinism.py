"""Determinism: every op (forward and every input gradient) and a patched ResNet18 training step
give bitwise identical results when run again with the same thread count; with 1 and 2 threads
the results agree bit for bit, or, where the thread split reorders sums, within those sums'
rounding bound.

Shapes are large enough that the kernels split their work across threads (elementwise chunks
above the 32768-element grain, several GEMM tiles, several conv images and channel planes).
"""
import pytest
import torch

from torchext import functional as F
from helpers import assert_within_rounding
from resnet_helpers import REL, assert_rel_close, batch, twins



def _t(*shape, low=None):
    t = torch.randn(*shape) if low is None else torch.rand(*shape) + low
    return t.requires_grad_()


# name -> (function, input builder); each builder is called under the same seed every run.
OPS = {
    "add": (lambda a, b: F.add(a, b, alpha=0.5), lambda: [_t(300, 257), _t(257)]),
    "sub": (F.sub, lambda: [_t(300, 257), _t(300, 1)]),
    "mul": (F.mul, lambda: [_t(300, 257), _t(300, 257)]),
    "pow": (lambda a: F.pow(a, 3), lambda: [_t(300, 257)]),
    "sum": (lambda a: F.sum(a, [0]), lambda: [_t(513, 300)]),
    "sum_all": (F.sum, lambda: [_t(513, 300)]),
    "matmul": (F.matmul, lambda: [_t(3, 96, 128), _t(128, 80)]),
    "t": (F.t, lambda: [_t(300, 257)]),
    "transpose": (lambda a: F.transpose(a, 0, 2), lambda: [_t(30, 40, 50)]),
    "flatten": (lambda a: F.flatten(a, 1), lambda: [_t(30, 40, 50).transpose(0, 1)]),
    "relu": (F.relu, lambda: [_t(300, 257)]),
    "relu_": (lambda a: F.relu_(a * 1), lambda: [_t(300, 257)]),
    "add_relu": (F.add_relu, lambda: [_t(300, 257), _t(300, 257)]),
    "bce": (lambda a, b: F.binary_cross_entropy_with_logits(a, b, pos_weight=torch.full((257,), 2.0)),
            lambda: [_t(300, 257), _t(300, 257, low=0.0)]),
    "conv2d": (lambda x, w, b: F.conv2d(x, w, b, padding=1), lambda: [_t(4, 16, 24, 24), _t(32, 16, 3, 3), _t(32)]),
    "conv2d_strided_groups": (lambda x, w: F.conv2d(x, w, stride=2, groups=2),
                              lambda: [_t(4, 16, 25, 25), _t(32, 8, 3, 3)]),
    "linear": (F.linear, lambda: [_t(64, 256), _t(128, 256), _t(128)]),
    "batch_norm_train": (lambda x, w, b: F.batch_norm(x, torch.zeros(32), torch.ones(32), w, b, training=True),
                         lambda: [_t(4, 32, 24, 24), _t(32), _t(32)]),
    "batch_norm_eval": (lambda x, w, b: F.batch_norm(x, torch.zeros(32), torch.full((32,), 2.0), w, b),
                        lambda: [_t(4, 32, 24, 24), _t(32), _t(32)]),
    "max_pool2d": (lambda x: F.max_pool2d(x, 3, 2, 1), lambda: [_t(4, 32, 24, 24)]),
    "adaptive_avg_pool2d": (lambda x: F.adaptive_avg_pool2d(x, (5, 7)), lambda: [_t(4, 32, 24, 24)]),
}


@pytest.fixture
def threads():
    """Sets torch's thread count for a test and restores it afterwards."""
    saved = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(saved)


# Ops whose results depend on the thread count only through the order of their sums (a reduction,
# GEMM or batch split across threads), with the number of terms of the longest such sum. Each is
# linear in every tensor input, so the same op in float64 on |inputs| and |grad_out| gives every
# result's sums of absolute terms, which bound how far two orders of the float32 sums can differ
# (helpers.assert_within_rounding). The other ops split work by element, plane or shape-fixed
# unit, never a sum by thread, and must agree bit for bit; bce's mean is handled in the test.
SPLIT_SUMS = {"add": 300, "sub": 257, "sum": 513, "sum_all": 513 * 300, "matmul": 3 * 96,
              "conv2d": 4 * 24 * 24, "conv2d_strided_groups": 4 * 12 * 12, "linear": 256}
BCE_TERMS = 300 * 257  # bce's forward: the mean of the elementwise losses


def run_op(name, absolute=False):
    """The op's output and input gradients; absolute=True runs it in float64 on the absolute values
    of the inputs and of the same grad_out."""
    fn, build = OPS[name]
    torch.manual_seed(0)
    inputs = build()
    if absolute:
        inputs = [t.detach().abs().double().requires_grad_(t.requires_grad) for t in inputs]
    out = fn(*inputs)
    grad_out = torch.randn(out.shape)
    grad_out = grad_out.abs().double() if absolute else grad_out
    leaves = [t for t in inputs if t.requires_grad]
    return [out.detach(), *torch.autograd.grad(out, leaves, grad_out)]


def bce_loss_magnitude():
    """The mean of |elementwise loss| of the "bce" case: its forward's sum of absolute terms."""
    _, build = OPS["bce"]
    torch.manual_seed(0)
    a, b = build()
    loss = F.binary_cross_entropy_with_logits(a, b, pos_weight=torch.full((257,), 2.0), reduction="none")
    return loss.detach().double().abs().mean()


@pytest.mark.parametrize("name", list(OPS))
def test_op_is_bitwise_reproducible(threads, name):
    threads(2)
    first, second = run_op(name), run_op(name)
    for i, (a, b) in enumerate(zip(first, second)):
        assert torch.equal(a, b), f"{name}: result {i} differs between two runs with the same threads"


@pytest.mark.parametrize("name", list(OPS))
def test_op_agrees_across_thread_counts(threads, name):
    threads(1)
    one = run_op(name)
    threads(2)
    two = run_op(name)
    if name in SPLIT_SUMS:
        for a, b, magnitude in zip(one, two, run_op(name, absolute=True)):
            assert_within_rounding(b, a, magnitude, SPLIT_SUMS[name], torch.float32)
        return
    for i, (a, b) in enumerate(zip(one, two)):
        if name == "bce" and i == 0:
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
