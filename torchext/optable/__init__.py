"""The op table: one OpInfo per torchext op, read by torchext.enable() (routes), torchext.patch
(module mirrors), `torchext check` (gradcheck samples) and the tests (opcheck, gradcheck and
gradgradcheck, float32 parity, determinism; fuzz and hostile-input coverage by name). Adding an op
is one entry in the family's file here, plus its kernel, schema and Function."""
from . import activation, attention, concat, conv, dropout, elementwise, linalg, loss, norm, pointwise, pooling, reduction, views
from .opinfo import OpInfo, Route, Sample  # noqa: F401  (what an entry is made of)
from .tensors import maker  # noqa: F401  (the consumers build samples with it)

OPS = tuple(elementwise.ENTRIES + activation.ENTRIES + pointwise.ENTRIES + reduction.ENTRIES + views.ENTRIES
            + linalg.ENTRIES + loss.ENTRIES + conv.ENTRIES + norm.ENTRIES + pooling.ENTRIES + concat.ENTRIES
            + dropout.ENTRIES + attention.ENTRIES)
BY_NAME = {entry.name: entry for entry in OPS}
if len(BY_NAME) != len(OPS):
    raise ValueError("two op table entries share a name")


def routes():
    """torch callable -> the torchext callable torchext.enable() runs instead."""
    return {func: route.ours for entry in OPS for route in entry.routes for func in route.torch_funcs}


def bool_tensor_routes():
    """The torch callables whose route takes bool tensors too."""
    return {func for entry in OPS for route in entry.routes if route.bool_tensors for func in route.torch_funcs}


def module_mirrors():
    """Every torchext.nn mirror class, in table order."""
    return [module for entry in OPS for module in entry.modules]
