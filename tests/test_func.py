"""torch.func over torchext, on every sample of the op table (float64) against native: vmap (batch
dim 0 and 1, some arguments unbatched, nested), grad, jacrev, vjp, jacrev of jacrev; forward mode
raises; vmap over per-sample gradients; functional_call and grad w.r.t. the parameters of patched
models."""
import copy

import pytest
import torch
import torch.nn as nn
import torchvision
from torch.func import functional_call, grad, jacrev, jvp, vjp, vmap

import torchext
from torchext.functions.function import Function
from torchext.optable import BY_NAME
from fuzz_strategies import assert_same, tolerance
from optable_helpers import build, sample_ids
from resnet_helpers import assert_rel_close

SAMPLES, SAMPLE_IDS = sample_ids()
GRAD_SAMPLES, GRAD_SAMPLE_IDS = sample_ids(differentiable_only=True)
BATCH = 3
RANDOM = {"dropout", "stochastic_depth"}
VIEWS = {"t", "transpose", "flatten"}


def _fn(name, sample, tensor_positions):
    """The entry's op (or ref) as a function of the sample's tensors at tensor_positions, the
    other arguments fixed; the first output where the op returns several."""
    entry = BY_NAME[name]

    def make(which):
        call = entry.call(which(entry))

        def fn(*tensors):
            args = list(sample.args)
            for i, t in zip(tensor_positions, tensors):
                args[i] = t
            out = call(*args, **sample.kwargs)
            return out[0] if isinstance(out, tuple) else out
        return fn
    return make(lambda e: e.op), make(lambda e: e.ref)


def _tensor_positions(sample, differentiable=False):
    return [i for i, a in enumerate(sample.args) if isinstance(a, torch.Tensor)
            and (not differentiable or (a.requires_grad and a.is_floating_point()))]


def _compare(ours, native, sample, what):
    rtol, atol = tolerance(torch.float64, max(sample.terms, sample.grad_terms or 1))
    ours, native = (o if isinstance(o, tuple) else (o,) for o in (ours, native))
    for i, (a, b) in enumerate(zip(ours, native)):
        assert_same(a, b, rtol, atol, f"{what} {i}")


def _both(run, ours, native):
    """run(ours) and run(native); nothing to compare where native raises (vmap over a random op
    without a randomness flag; native's conv2d under jacrev of an empty output)."""
    try:
        expected = run(native)
    except RuntimeError:
        return None, None
    return run(ours), expected


def _batched(name, index, device, positions, in_dim):
    """The sample's tensors at positions, BATCH draws stacked along in_dim (at most their rank)."""
    draws = [build(name, index, torch.float64, device, seed=s) for s in range(BATCH)]
    stacked = []
    for i in positions:
        dim = min(in_dim, draws[0].args[i].dim())
        stacked.append((torch.stack([d.args[i].detach() for d in draws], dim), dim))
    return draws[0], stacked


@pytest.mark.parametrize("in_dim", [0, 1])
@pytest.mark.parametrize("name,index", SAMPLES, ids=SAMPLE_IDS)
def test_vmap(device, name, index, in_dim):
    sample = build(name, index, torch.float64, device)
    positions = _tensor_positions(sample)
    sample, stacked = _batched(name, index, device, positions, in_dim)
    ours, native = _fn(name, sample, positions)
    tensors, dims = [t for t, _ in stacked], tuple(d for _, d in stacked)
    got, expected = _both(lambda f: vmap(f, in_dims=dims, out_dims=in_dim if in_dim == 0 else -1)(*tensors),
                          ours, native)
    if expected is not None:
        _compare(got, expected, sample, "vmap output")
    if len(positions) > 1:  # only the first argument batched, the others shared
        shared = [t.select(d, 0) for t, d in stacked[1:]]
        in_dims = (dims[0],) + (None,) * len(shared)
        got, expected = _both(lambda f: vmap(f, in_dims=in_dims)(tensors[0], *shared), ours, native)
        if expected is not None:
            _compare(got, expected, sample, "vmap, others unbatched")


@pytest.mark.parametrize("name,index", SAMPLES, ids=SAMPLE_IDS)
def test_nested_vmap(device, name, index):
    sample = build(name, index, torch.float64, device)
    positions = _tensor_positions(sample)
    outer = [_batched(name, index, device, positions, 0)[1] for _ in range(2)]
    tensors = [torch.stack([outer[0][k][0], outer[1][k][0] * 0.5], 0) for k in range(len(positions))]
    ours, native = _fn(name, sample, positions)
    got, expected = _both(lambda f: vmap(vmap(f))(*tensors), ours, native)
    if expected is not None:
        _compare(got, expected, sample, "nested vmap")


def _cotangent(out):
    generator = torch.Generator(device=out.device).manual_seed(1)
    return torch.randn(out.shape, dtype=out.dtype, device=out.device, generator=generator)


@pytest.mark.parametrize("name,index", GRAD_SAMPLES, ids=GRAD_SAMPLE_IDS)
def test_grad_vjp_jacrev(device, name, index):
    sample = build(name, index, torch.float64, device)
    positions = _tensor_positions(sample, differentiable=True)
    ours, native = _fn(name, sample, positions)
    primals = [sample.args[i].detach() for i in positions]
    argnums = tuple(range(len(primals)))
    out = native(*primals)
    cot = _cotangent(out)

    def loss(f):
        return lambda *t: (f(*t) * cot).sum()
    if name in RANDOM:
        # Native's draw under a transform follows the wrapper's (contiguous) layout, not the input's
        # as in plain autograd, which ours reproduces: the reference is native in plain autograd.
        plain = [p.detach().requires_grad_() for p in primals]
        native_grads = torch.autograd.grad((native(*plain) * cot).sum(), plain)
        _compare(grad(loss(ours), argnums)(*primals), native_grads, sample, "grad")
        _compare(vjp(ours, *primals)[1](cot), native_grads, sample, "vjp")
        _compare(jacrev(ours, argnums)(*primals), torch.autograd.functional.jacobian(native, tuple(primals)),
                 sample, "jacrev")
        return
    got, expected = _both(lambda f: grad(loss(f), argnums)(*primals), ours, native)
    if expected is not None:
        _compare(got, expected, sample, "grad")
    got, expected = _both(lambda f: vjp(f, *primals)[1](cot), ours, native)
    if expected is not None:
        _compare(got, expected, sample, "vjp")
    got, expected = _both(lambda f: jacrev(f, argnums)(*primals), ours, native)
    if expected is not None:
        _compare(got, expected, sample, "jacrev")


def _small_second_order(name, index):
    """Whether the sample's second derivative w.r.t. its first differentiable argument is small
    (output x input x input entries) and native's backward is differentiable."""
    if not BY_NAME[name].gradgrad or name in RANDOM:
        return False
    sample = build(name, index, torch.float64, "cpu")
    position = _tensor_positions(sample, differentiable=True)[0]
    out = _fn(name, sample, [position])[1](sample.args[position].detach())
    return out.numel() * sample.args[position].numel() ** 2 <= 4000


# Native has no double backward for these ("derivative for aten::hardsigmoid_backward is not
# implemented"); ours is the exact one, 0 almost everywhere.
PIECEWISE_LINEAR_WITHOUT_NATIVE_DOUBLE_BACKWARD = {"hardsigmoid"}
SECOND_ORDER = [(p, i) for p, i in zip(GRAD_SAMPLES, GRAD_SAMPLE_IDS) if _small_second_order(*p)]


@pytest.mark.parametrize("name,index", [p for p, _ in SECOND_ORDER], ids=[i for _, i in SECOND_ORDER])
def test_jacrev_of_jacrev(device, name, index):
    """Second derivatives by reverse over reverse (vmap over the double backward), where the op's
    backward is differentiable; w.r.t. the first differentiable argument, on small samples."""
    sample = build(name, index, torch.float64, device)
    positions = _tensor_positions(sample, differentiable=True)[:1]
    ours, native = _fn(name, sample, positions)
    primal = sample.args[positions[0]].detach()
    got = jacrev(jacrev(ours))(primal)
    if name in PIECEWISE_LINEAR_WITHOUT_NATIVE_DOUBLE_BACKWARD:
        assert torch.count_nonzero(got) == 0, f"{name}: a piecewise-linear op's second derivative is 0"
        return
    _compare(got, jacrev(jacrev(native))(primal), sample, "jacrev(jacrev)")


@pytest.mark.parametrize("name,index", GRAD_SAMPLES, ids=GRAD_SAMPLE_IDS)
def test_forward_mode_raises(device, name, index):
    """Forward-mode AD (jvp, jacfwd) is not supported (functions/function.py: a Function with a jvp
    cannot be traced by torch.compile): it raises, never a wrong tangent. The views (ATen's own) and
    the calls that return their input (dropout at p = 0 or in eval) have native's."""
    sample = build(name, index, torch.float64, device)
    positions = _tensor_positions(sample, differentiable=True)
    ours, native = _fn(name, sample, positions)
    primals = tuple(sample.args[i].detach() for i in positions)
    tangents = tuple(_cotangent(p) for p in primals)
    try:
        got = jvp(ours, primals, tangents)
    except NotImplementedError as error:
        assert "You must implement the jvp function" in str(error)
        assert name not in VIEWS
        return
    _compare(got, jvp(native, primals, tangents), sample, "jvp (output, tangent)")


def test_every_function_is_func_ready():
    """Every autograd Function of torchext derives from the base that makes it torch.func-ready
    (setup_context, generated vmap, a named jvp error)."""
    import torchext.functions as functions
    import pkgutil
    import importlib
    for info in pkgutil.iter_modules(functions.__path__):
        module = importlib.import_module(f"torchext.functions.{info.name}")
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, torch.autograd.Function) \
                    and value.__module__ == module.__name__:
                assert issubclass(value, Function), f"{value.__qualname__} is not a torchext Function"


def test_vmap_randomness():
    """dropout under vmap: refused without a randomness flag (as native); 'different' draws every
    sample's mask, 'same' one mask for all."""
    x = torch.randn(4, 50, dtype=torch.float64)
    with pytest.raises(RuntimeError, match="randomness"):
        vmap(lambda t: torchext.functional.dropout(t, 0.5))(x)
    torch.manual_seed(0)
    different = vmap(lambda t: torchext.functional.dropout(t, 0.5), randomness="different")(x)
    torch.manual_seed(0)
    native = vmap(lambda t: torch.nn.functional.dropout(t, 0.5), randomness="different")(x)
    assert torch.equal(different, native)
    same = vmap(lambda t: torchext.functional.dropout(t, 0.5), randomness="same")(torch.ones(4, 50))
    assert all(torch.equal(same[0], s) for s in same) and (same == 0).any() and (same == 2).any()


def test_per_sample_gradients():
    """vmap(grad) over a loss: each sample's gradient w.r.t. conv and linear weights."""
    torch.manual_seed(0)
    conv_w, lin_w = torch.randn(4, 3, 3, 3, dtype=torch.float64), torch.randn(5, 4 * 6 * 6, dtype=torch.float64)
    images, targets = torch.randn(6, 1, 3, 8, 8, dtype=torch.float64), torch.rand(6, 1, 5, dtype=torch.float64)

    def loss(F):
        def run(params, x, y):
            h = F.relu(F.conv2d(x, params[0], padding=0))
            return F.binary_cross_entropy_with_logits(F.linear(h.flatten(1), params[1]), y)
        return run
    ours = vmap(grad(loss(torchext.functional)), in_dims=(None, 0, 0))((conv_w, lin_w), images, targets)
    native = vmap(grad(loss(torch.nn.functional)), in_dims=(None, 0, 0))((conv_w, lin_w), images, targets)
    for a, b in zip(ours, native):
        assert_same(a, b, 1e-10, 1e-12, "per-sample gradient")


class SmallCNN(nn.Module):
    """No bias on the conv before the batch norm: that gradient is zero up to rounding there."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(nn.Conv2d(3, 8, 3, padding=1, bias=False), nn.BatchNorm2d(8), nn.ReLU(),
                                      nn.MaxPool2d(2), nn.Conv2d(8, 16, 3, stride=2), nn.SiLU(),
                                      nn.AdaptiveAvgPool2d(1), nn.Flatten())
        self.head = nn.Linear(16, 10)

    def forward(self, x):
        return self.head(self.features(x))


@pytest.mark.parametrize("model_name", ["resnet18", "small_cnn"])
@pytest.mark.parametrize("train", [True, False])
def test_functional_call_and_parameter_grad(model_name, train):
    """functional_call of a patched model with other parameters, and grad of its loss w.r.t. them,
    equal native's (float64; normwise relative error per tensor, as test_model)."""
    torch.manual_seed(0)
    native = (torchvision.models.resnet18(num_classes=10) if model_name == "resnet18" else SmallCNN()).double()
    native.train(train)
    ours = torchext.patch(copy.deepcopy(native))
    params = {k: v.detach() + 0.01 * torch.randn_like(v) for k, v in native.named_parameters()}
    buffers = {k: v.clone() for k, v in native.named_buffers()}
    x, target = torch.randn(4, 3, 64, 64, dtype=torch.float64), torch.randint(0, 10, (4,))

    def loss(model):
        def run(p, b):
            out = functional_call(model, (p, b), (x,))
            return torch.nn.functional.cross_entropy(out, target)
        return run
    ours_buffers = {k: v.clone() for k, v in buffers.items()}
    got = functional_call(ours, (params, ours_buffers), (x,))
    expected = functional_call(native, (params, buffers), (x,))
    assert_rel_close(got, expected, 1e-10, "output")
    for k in buffers:
        assert_rel_close(ours_buffers[k], buffers[k], 1e-10, f"buffer {k}")
    ours_grads = grad(loss(ours))(params, {k: v.clone() for k, v in ours_buffers.items()})
    native_grads = grad(loss(native))(params, {k: v.clone() for k, v in ours_buffers.items()})
    for k in params:
        assert_rel_close(ours_grads[k], native_grads[k], 1e-10, f"grad {k}")
