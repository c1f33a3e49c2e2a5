"""Hypothesis strategies for the fuzzed parity tests (tests/test_fuzz_parity.py).

A tensor is drawn as a TensorSpec (shape, dtype, layout, seed, whether some entries are NaN/Inf),
not as its values: building a spec twice gives two identical tensors with identical strides, one
for torchext and one for native, and hypothesis only has to shrink a handful of integers.
check_parity runs both, compares every output (NaN where native has NaN, the same infinities) and
every input gradient.
"""
import dataclasses
import math

import torch
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st

# Forward/gradient tolerances grow with reduction length; the op table's, shared with its tests.
from torchext.optable.tolerance import tolerance

# Examples hypothesis draws per op (per test function). Fixed seed (derandomize), so a run is
# reproducible and a failure is found again by the next run.
EXAMPLES_PER_OP = 150

DTYPES = (torch.float32, torch.float64)
LAYOUTS = ("contiguous", "strided", "transposed", "channels_last")



def fuzz(examples=EXAMPLES_PER_OP):
    """The hypothesis settings every fuzz test uses: fixed seed, bounded examples, no deadline
    (the shared 2-core machine has timing noise), no example database (runs stay hermetic)."""
    return settings(derandomize=True, max_examples=examples, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                           HealthCheck.filter_too_much])


@dataclasses.dataclass(frozen=True)
class TensorSpec:
    shape: tuple
    dtype: torch.dtype
    layout: str = "contiguous"
    seed: int = 0
    specials: bool = False   # about a tenth of the entries become NaN, +Inf or -Inf
    grad: bool = True        # the built tensor is a leaf that requires grad
    low: float = None        # uniform in [low, high) instead of standard normal
    high: float = None

    def build(self):
        g = torch.Generator().manual_seed(self.seed)
        shape = tuple(self.shape)
        nd = len(shape)
        layout = self.layout
        if layout == "transposed" and nd < 2:
            layout = "strided"
        if layout == "channels_last" and nd != 4:
            layout = "transposed" if nd >= 2 else "strided"
        if layout == "strided" and nd == 0:
            layout = "contiguous"

        if layout == "strided":  # every dim sliced with step 2 out of a tensor twice as large
            t = self._values([2 * s for s in shape], g)[tuple(slice(None, None, 2) for _ in shape)]
        elif layout == "transposed":  # the last two dims swapped in memory
            t = self._values(shape[:-2] + (shape[-1], shape[-2]), g).transpose(-1, -2)
        elif layout == "channels_last":
            t = self._values(shape, g).contiguous(memory_format=torch.channels_last)
        else:
            t = self._values(shape, g)
        assert tuple(t.shape) == shape
        if self.specials and t.numel():
            mask = torch.rand(shape, generator=g) < 0.1
            picks = torch.randint(0, 3, shape, generator=g)
            values = torch.tensor([math.nan, math.inf, -math.inf], dtype=self.dtype)[picks]
            t[mask] = values[mask]
        return t.requires_grad_(self.grad)

    def _values(self, shape, g):
        if self.low is None:
            return torch.randn(shape, generator=g, dtype=self.dtype)
        return torch.rand(shape, generator=g, dtype=self.dtype) * (self.high - self.low) + self.low


# Sizes with a bias towards the edges: empty, one, odd, a power of two, larger odd.
SIDES = st.sampled_from([0, 1, 1, 2, 3, 4, 5, 7, 8, 13])
POSITIVE_SIDES = st.sampled_from([1, 1, 2, 3, 4, 5, 7, 8, 13])
CHANNELS = st.sampled_from([1, 2, 3, 4, 5, 16, 33])


def shapes(min_dims=0, max_dims=4, sides=SIDES):
    return st.lists(sides, min_size=min_dims, max_size=max_dims).map(tuple)


def seeds():
    return st.integers(0, 2**31 - 1)


@st.composite
def tensors(draw, shape, dtype, layouts=LAYOUTS, specials=True, grad=True, low=None, high=None):
    """A TensorSpec of the given shape and dtype, with a drawn layout, seed and (rarely) NaN/Inf."""
    return TensorSpec(tuple(shape), dtype, draw(st.sampled_from(layouts)), draw(seeds()),
                      specials and draw(st.integers(0, 4)) == 0, grad, low, high)


@st.composite
def broadcastable_shapes(draw, count=2, max_dims=4):
    """`count` shapes that broadcast together: each drops some leading dims of a common shape and
    sets some of the remaining ones to 1."""
    full = draw(shapes(0, max_dims, st.sampled_from([0, 1, 2, 3, 5]))) if draw(st.booleans()) else \
        draw(shapes(0, max_dims, st.sampled_from([1, 2, 3, 5])))
    out = []
    for _ in range(count):
        keep = draw(st.integers(0, len(full)))
        dims = full[len(full) - keep:]
        ones = draw(st.lists(st.booleans(), min_size=keep, max_size=keep))
        out.append(tuple(1 if one else s for s, one in zip(dims, ones)))
    return out


@st.composite
def broadcastable_to(draw, shape):
    """A shape that broadcasts to `shape` (not larger than it)."""
    keep = draw(st.integers(0, len(shape)))
    dims = shape[len(shape) - keep:]
    ones = draw(st.lists(st.booleans(), min_size=keep, max_size=keep))
    return tuple(1 if one else s for s, one in zip(dims, ones))


def _build(args):
    return [a.build() if isinstance(a, TensorSpec) else a for a in args]


def _as_tuple(out):
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def assert_same(ours, native, rtol, atol, what):
    assert ours.shape == native.shape, f"{what}: shape {tuple(ours.shape)} != native {tuple(native.shape)}"
    assert ours.dtype == native.dtype, f"{what}: dtype {ours.dtype} != native {native.dtype}"
    torch.testing.assert_close(ours, native, rtol=rtol, atol=atol, equal_nan=True,
                               msg=lambda m: f"{what}: {m}")


def check_parity(ours, native, args, *, terms=1, grad_terms=None, dtype=None, grad_seed=0):
    """Runs ours(*built args) and native(*built args) (each on its own build of the specs) and
    compares every output, then the gradients of every differentiable output w.r.t. every input
    that requires grad, for the same random output gradient. Integer outputs must match exactly.
    terms/grad_terms: reduction lengths for the forward/backward tolerances."""
    a_in, b_in = _build(args), _build(args)
    a_out, b_out = _as_tuple(ours(*a_in)), _as_tuple(native(*b_in))
    assert len(a_out) == len(b_out)
    dtype = dtype or next(o.dtype for o in b_out if o.is_floating_point())
    rtol, atol = tolerance(dtype, terms)
    for i, (a, b) in enumerate(zip(a_out, b_out)):
        if b.is_floating_point():
            assert_same(a, b, rtol, atol, f"output {i}")
        else:
            assert a.dtype == b.dtype and torch.equal(a, b), f"output {i}: {a} != native {b}"
    return compare_grads(a_in, b_in, a_out, b_out, grad_terms or terms, grad_seed)


def compare_grads(a_in, b_in, a_out, b_out, terms, grad_seed=0):
    leaves = [i for i, t in enumerate(b_in) if isinstance(t, torch.Tensor) and t.requires_grad]
    outs = [i for i, o in enumerate(b_out) if o.requires_grad and o.is_floating_point()]
    if not leaves or not outs:
        return
    if all(b_out[i].numel() == 0 for i in outs):
        # Nothing flows back from empty outputs (native's backward may even refuse them): ours
        # must give no gradient or zeros.
        a_grads = torch.autograd.grad([a_out[j] for j in outs], [a_in[i] for i in leaves],
                                      [torch.zeros_like(a_out[j]) for j in outs], allow_unused=True)
        for i, ga in zip(leaves, a_grads):
            assert ga is None or not ga.any(), f"grad of input {i}: expected zeros"
        return
    g = torch.Generator().manual_seed(grad_seed)
    grad_outs = [torch.randn(b_out[i].shape, generator=g, dtype=b_out[i].dtype) for i in outs]
    a_grads = torch.autograd.grad([a_out[i] for i in outs], [a_in[i] for i in leaves], grad_outs,
                                  allow_unused=True)
    b_grads = torch.autograd.grad([b_out[i] for i in outs], [b_in[i] for i in leaves], grad_outs,
                                  allow_unused=True)
    # A gradient is as precise as the less precise of its own dtype and the output's.
    out_eps = max(torch.finfo(b_out[i].dtype).eps for i in outs)
    for i, ga, gb in zip(leaves, a_grads, b_grads):
        if gb is None:  # native's graph does not reach this input: ours gives None or zeros
            assert ga is None or not ga.any(), f"grad of input {i}: expected none"
            continue
        assert ga is not None, f"grad of input {i}: missing"
        dtype = gb.dtype if torch.finfo(gb.dtype).eps >= out_eps else torch.float32
        rtol, atol = tolerance(dtype, terms)
        assert_same(ga, gb, rtol, atol, f"grad of input {i}")
