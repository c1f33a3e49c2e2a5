"""What the op table records about one op (in the spirit of PyTorch's OpInfo)."""
import dataclasses
from typing import Callable, Optional


@dataclasses.dataclass
class Sample:
    """One call: op(*args, **kwargs). terms/grad_terms: the longest sum an output entry (of the
    forward / of an input gradient) adds up, from which the parity tolerances grow. split_sum, in a
    determinism sample: the longest sum whose order the thread split changes (None: the results
    must not depend on the thread count at all)."""
    args: tuple
    kwargs: dict = dataclasses.field(default_factory=dict)
    name: str = ""
    terms: int = 1
    grad_terms: Optional[int] = None
    split_sum: Optional[int] = None


@dataclasses.dataclass(frozen=True)
class Route:
    """torch callables that torchext.enable() sends to `ours` (the functional, or an adapter).
    bool_tensors: bool tensor arguments (attention masks) do not keep the call native."""
    ours: Callable
    torch_funcs: tuple
    bool_tensors: bool = False


def _direct(fn):
    return fn


@dataclasses.dataclass(frozen=True)
class OpInfo:
    """One torchext op.

    name: the torchext.functional name (hostile cases and fuzz tests are keyed by it).
    op, ref: the torchext.functional callable and the native one with the same signature.
    routes: what torchext.enable() routes to it. modules: its torchext.nn mirrors (patch swaps them).
    samples(make) -> [Sample]: small inputs (odd sizes, broadcasting, strided, channels_last,
        empty where native allows); make(*shape, layout=, low=, high=, away=, grad=) builds a
        tensor in the dtype and device the consumer asks for (float64 gradcheck, float32 parity).
    gradgrad: whether the backward is differentiable again (gradgradcheck), as native's is.
    torch_ops: the torch.ops.torchext ops its forward and backward call (each gets opcheck).
    determinism(make) -> [Sample]: shapes large enough that the kernels split work across threads.
    call(fn) -> callable: how tests call op and ref (e.g. an in-place op on a non-leaf copy).
    """
    name: str
    op: Callable
    ref: Callable
    samples: Callable
    torch_ops: tuple
    determinism: Callable
    routes: tuple = ()
    modules: tuple = ()
    gradgrad: bool = True
    call: Callable = _direct
