"""A catalogue of hostile inputs for every public torchext function, torchext.nn module (as
torchext.patch makes them), the optimizer and the raw dispatcher ops: wrong rank, wrong dtype
(int64, bool, complex64), a tensor on another device ('meta'), mismatched shapes, zero or negative
strides, over-large padding, outputs below one element, absurd sizes, None for a tensor, wrong
types for ints.

Each case runs torchext and, where there is one, the native counterpart on fresh identical
inputs. Run as a script (`python hostile_catalogue.py`) it prints one JSON line per case:
{"name", "op", "args", "unsupported", "ours": outcome, "native": outcome, "equal"} where an outcome
is {"ok": true} or {"ok": false, "type": exception class name, "message": ...}; before each case a
{"start": name} line, so a case that kills the process is named by the last start line.
tests/test_hostile_input.py runs it in a subprocess and judges the outcomes.
"""
import dataclasses
import itertools
import json
import resource
import sys

import torch
import torch.nn.functional as NF
from torch import nn
import torchvision

import torchext
from torchext import functional as F

# Python argument names and the schema names the kernels use for the same argument.
ALIASES = {"input": ("input", "self"), "other": ("other",), "weight": ("weight",), "target": ("target",)}


@dataclasses.dataclass
class Case:
    name: str
    op: str                # the op a good message names
    args: tuple            # a good message names one of these
    ours: object           # thunk
    native: object = None  # thunk, or None for torchext-only functions
    # Native may compute it but torchext deliberately does not (a dtype torchext has no kernel for,
    # tensors on two devices, no tensor at all): ours must raise a good error instead of matching
    # native.
    unsupported: bool = False
    # The exception class torchext raises where it deliberately differs from native's (None for a
    # tensor: TypeError, where native's own Python code trips over it with another class).
    expect_type: str = None


CASES = []


def add(name, op, args, ours, native=None, unsupported=False, expect_type=None):
    if isinstance(args, str):
        args = ALIASES.get(args, (args,))
    assert all(c.name != name for c in CASES), name
    CASES.append(Case(name, op, tuple(args), ours, native, unsupported, expect_type))


def r(*shape, dtype=torch.float32):
    return torch.randn(shape, dtype=dtype)


def retyped(t, kind):
    """t as another dtype or on the 'meta' device."""
    if kind == "meta":
        return t.to("meta")
    return {"int64": lambda: t.round().to(torch.int64), "bool": lambda: t > 0,
            "complex64": lambda: t.to(torch.complex64)}[kind]()


def pair(ours_fn, native_fn, build):
    """Thunks that call ours/native on their own build() (args, kwargs), seeded alike."""
    def thunk(fn):
        def run():
            torch.manual_seed(0)
            args, kwargs = build()
            return fn(*args, **kwargs)
        return run
    return thunk(ours_fn), (thunk(native_fn) if native_fn is not None else None)


def tensor_arg_cases(op, ours_fn, native_fn, tensors, kwargs=None, optional=(), single_device_ok=False):
    """For each tensor argument (an ordered dict name -> builder): the three foreign dtypes, the
    'meta' device (when there is another tensor to disagree with), and None (when required)."""
    kwargs = kwargs or {}
    names = list(tensors)
    for target in names:
        variants = ["int64", "bool", "complex64"]
        if len(names) > 1 or single_device_ok:
            variants.append("meta")
        if target not in optional:
            variants.append("None")
        for kind in variants:
            def build(target=target, kind=kind):
                args = []
                for name in names:
                    t = tensors[name]()
                    if name == target:
                        t = None if kind == "None" else retyped(t, kind)
                    args.append(t)
                return args, dict(kwargs)
            ours, native = pair(ours_fn, native_fn, build)
            add(f"{op}/{target} {kind}", op, target, ours, native, unsupported=kind != "None",
                expect_type="TypeError" if kind == "None" else None)


def simple(op, name, args, ours_fn, native_fn, build, unsupported=False, expect_type=None):
    ours, native = pair(ours_fn, native_fn, build)
    add(f"{op}/{name}", op, args, ours, native, unsupported, expect_type)


# ----------------------------------------------------------------------------- elementwise

for op, ours_fn, native_fn in (("add", F.add, torch.add), ("sub", F.sub, torch.sub), ("mul", F.mul, torch.mul),
                               ("rsub", F.rsub, torch.rsub)):
    tensor_arg_cases(op, ours_fn, native_fn, {"input": lambda: r(3, 4), "other": lambda: r(3, 4)})
    simple(op, "shapes do not broadcast", ("other", "self", "size", "shape"), ours_fn, native_fn,
           lambda: ([r(3, 4), r(5)], {}))
    simple(op, "other a string", "other", ours_fn, native_fn, lambda: ([r(3), "2"], {}))
    simple(op, "other a list", "other", ours_fn, native_fn, lambda: ([r(3), [1.0, 2.0, 3.0]], {}))
    simple(op, "other a complex number", "other", ours_fn, native_fn, lambda: ([r(3), 1 + 2j], {}),
           unsupported=True)
    simple(op, "both numbers", ("input", "other"), ours_fn, native_fn, lambda: ([2.0, 3.0], {}), unsupported=True)
    simple(op, "0-dim on meta with a cpu tensor", ("other", "self", "device"), ours_fn, native_fn,
           lambda: ([r(3), r().to("meta")], {}), unsupported=True)
    simple(op, "cpu 0-dim with a meta tensor", ("other", "self", "device"), ours_fn, native_fn,
           lambda: ([r(3).to("meta"), r()], {}))
    if op != "mul":
        simple(op, "alpha a string", "alpha", ours_fn, native_fn, lambda: ([r(3), r(3)], {"alpha": "2"}))
        simple(op, "alpha a bool", "alpha", ours_fn, native_fn, lambda: ([r(3), r(3)], {"alpha": True}))
        simple(op, "alpha complex", "alpha", ours_fn, native_fn, lambda: ([r(3), r(3)], {"alpha": 2j}))
        simple(op, "alpha a tensor", "alpha", ours_fn, native_fn, lambda: ([r(3), r(3)], {"alpha": r(1)}))
        simple(op, "scalar other, alpha a string", "alpha", ours_fn, native_fn, lambda: ([r(3), 2.0], {"alpha": "x"}))

tensor_arg_cases("pow", F.pow, torch.pow, {"input": lambda: r(3, 4)}, {"exponent": 2})
simple("pow", "exponent a string", "exponent", F.pow, torch.pow, lambda: ([r(3), "2"], {}))
simple("pow", "exponent None", "exponent", F.pow, torch.pow, lambda: ([r(3), None], {}))
simple("pow", "exponent complex", "exponent", F.pow, torch.pow, lambda: ([r(3), 0.5j], {}), unsupported=True)
simple("pow", "exponent a bool", "exponent", F.pow, torch.pow, lambda: ([r(3), True], {}))
simple("pow", "exponent huge", "exponent", F.pow, torch.pow, lambda: ([r(3), 1e300], {}))
simple("pow", "base a number", "input", F.pow, torch.pow, lambda: ([2.0, r(3)], {}), unsupported=True)

# ----------------------------------------------------------------------------- reductions, views

tensor_arg_cases("sum", F.sum, torch.sum, {"input": lambda: r(3, 4)})
simple("sum", "dim out of range", "dim", F.sum, torch.sum, lambda: ([r(3, 4), 2], {}))
simple("sum", "dim absurd", "dim", F.sum, torch.sum, lambda: ([r(3, 4), 2**40], {}))
simple("sum", "dim negative out of range", "dim", F.sum, torch.sum, lambda: ([r(3, 4), -3], {}))
simple("sum", "dim repeated", "dim", F.sum, torch.sum, lambda: ([r(3, 4), [0, -2]], {}))
simple("sum", "dim a float", "dim", F.sum, torch.sum, lambda: ([r(3, 4), 1.5], {}))
simple("sum", "dim a string", "dim", F.sum, torch.sum, lambda: ([r(3, 4), "x"], {}))
simple("sum", "dim list of floats", "dim", F.sum, torch.sum, lambda: ([r(3, 4), [0.0, 1.0]], {}))
simple("sum", "dim out of range of a 0-dim", "dim", F.sum, torch.sum, lambda: ([r(), 1], {}))
simple("sum", "dtype int64", "dtype", F.sum, torch.sum, lambda: ([r(3, 4)], {"dtype": torch.int64}), unsupported=True)
simple("sum", "dtype a string", "dtype", F.sum, torch.sum, lambda: ([r(3, 4)], {"dtype": "float32"}))
simple("sum", "keepdim a string", "keepdim", F.sum, torch.sum, lambda: ([r(3, 4), 0], {"keepdim": "yes"}))

tensor_arg_cases("t", F.t, torch.t, {"input": lambda: r(3, 4)})
simple("t", "3-D input", "input", F.t, torch.t, lambda: ([r(2, 3, 4)], {}))
tensor_arg_cases("transpose", F.transpose, torch.transpose, {"input": lambda: r(3, 4)}, {"dim0": 0, "dim1": 1})
simple("transpose", "dim0 out of range", "dim", F.transpose, torch.transpose, lambda: ([r(3, 4), 2, 0], {}))
simple("transpose", "dim1 absurd", "dim", F.transpose, torch.transpose, lambda: ([r(3, 4), 0, -2**40], {}))
simple("transpose", "dim a float", "dim", F.transpose, torch.transpose, lambda: ([r(3, 4), 0.0, 1], {}))
simple("transpose", "dim None", "dim", F.transpose, torch.transpose, lambda: ([r(3, 4), None, 1], {}))
tensor_arg_cases("flatten", F.flatten, torch.flatten, {"input": lambda: r(2, 3, 4)})
simple("flatten", "start after end", "dim", F.flatten, torch.flatten, lambda: ([r(2, 3, 4), 2, 1], {}))
simple("flatten", "start out of range", "dim", F.flatten, torch.flatten, lambda: ([r(2, 3, 4), 3], {}))
simple("flatten", "end absurd", "dim", F.flatten, torch.flatten, lambda: ([r(2, 3, 4), 0, 2**40], {}))
simple("flatten", "start a float", "dim", F.flatten, torch.flatten, lambda: ([r(2, 3, 4), 1.0], {}))
simple("flatten", "end a string", "dim", F.flatten, torch.flatten, lambda: ([r(2, 3, 4), 0, "x"], {}))

# ----------------------------------------------------------------------------- matmul

tensor_arg_cases("matmul", F.matmul, torch.matmul, {"input": lambda: r(3, 4), "other": lambda: r(4, 5)})
simple("matmul", "0-D input", ("self", "input", "1-D", "dimension"), F.matmul, torch.matmul,
       lambda: ([r(), r(4)], {}))
simple("matmul", "0-D other", ("other", "1-D", "dimension"), F.matmul, torch.matmul, lambda: ([r(4), r()], {}))
simple("matmul", "inner sizes differ", ("self", "other", "shape"), F.matmul, torch.matmul,
       lambda: ([r(3, 4), r(5, 2)], {}))
simple("matmul", "vector sizes differ", ("self", "other", "shape"), F.matmul, torch.matmul,
       lambda: ([r(3), r(4)], {}))
simple("matmul", "batch does not broadcast", ("batch", "self", "other"), F.matmul, torch.matmul,
       lambda: ([r(2, 3, 4), r(3, 4, 5)], {}))
simple("matmul", "float32 @ float64", ("dtype", "self", "other"), F.matmul, torch.matmul,
       lambda: ([r(3, 4), r(4, 5, dtype=torch.float64)], {}))
simple("matmul", "out of the wrong dtype", ("out", "dtype"), F.matmul, torch.matmul,
       lambda: ([r(3, 4), r(4, 5)], {"out": torch.empty(3, 5, dtype=torch.int64)}))

# ----------------------------------------------------------------------------- activations

tensor_arg_cases("relu", F.relu, torch.relu, {"input": lambda: r(3, 4)})
tensor_arg_cases("relu_", F.relu_, torch.relu_, {"input": lambda: r(3, 4)})
simple("relu_", "leaf that requires grad", ("leaf", "in-place", "inplace"), F.relu_, torch.relu_,
       lambda: ([r(3).requires_grad_()], {}))
simple("relu", "inplace a string", "inplace", F.relu, NF.relu, lambda: ([r(3)], {"inplace": "yes"}))


def _native_add_relu(a, b):
    return torch.relu(a + b)


tensor_arg_cases("add_relu", F.add_relu, _native_add_relu, {"input": lambda: r(3, 4), "other": lambda: r(3, 4)})
simple("add_relu", "other broadcast", "other", F.add_relu, None, lambda: ([r(3, 4), r(4)], {}))
simple("add_relu", "float32 + float64", ("dtype", "other"), F.add_relu, None,
       lambda: ([r(3), r(3, dtype=torch.float64)], {}))

# pointwise activations (sigmoid, silu, hardtanh, relu6, hardswish, hardsigmoid, gelu)
for op, ours_fn, native_fn in (("sigmoid", F.sigmoid, torch.sigmoid), ("sigmoid_", F.sigmoid_, torch.sigmoid_),
                               ("silu", F.silu, NF.silu), ("hardtanh", F.hardtanh, NF.hardtanh),
                               ("hardtanh_", F.hardtanh_, NF.hardtanh_), ("relu6", F.relu6, NF.relu6),
                               ("hardswish", F.hardswish, NF.hardswish),
                               ("hardsigmoid", F.hardsigmoid, NF.hardsigmoid), ("gelu", F.gelu, NF.gelu)):
    tensor_arg_cases(op, ours_fn, native_fn, {"input": lambda: r(3, 4)})
for op, ours_fn, native_fn in (("silu", F.silu, NF.silu), ("hardtanh", F.hardtanh, NF.hardtanh),
                               ("relu6", F.relu6, NF.relu6), ("hardswish", F.hardswish, NF.hardswish),
                               ("hardsigmoid", F.hardsigmoid, NF.hardsigmoid)):
    simple(op, "in place on a leaf that requires grad", ("leaf", "in-place", "inplace"), ours_fn, native_fn,
           lambda: ([r(3).requires_grad_()], {"inplace": True}))
    simple(op, "inplace a string", "inplace", ours_fn, native_fn, lambda: ([r(3)], {"inplace": "yes"}),
           unsupported=True)
for op, ours_fn, native_fn in (("sigmoid_", F.sigmoid_, torch.sigmoid_), ("hardtanh_", F.hardtanh_, NF.hardtanh_)):
    simple(op, "leaf that requires grad", ("leaf", "in-place", "inplace"), ours_fn, native_fn,
           lambda: ([r(3).requires_grad_()], {}))
for op, ours_fn, native_fn in (("hardtanh", F.hardtanh, NF.hardtanh), ("hardtanh_", F.hardtanh_, NF.hardtanh_)):
    # Native's hardtanh_ clamps with crossed bounds unchecked; ours refuses them as its hardtanh.
    simple(op, "min_val above max_val", ("min_val", "max_val"), ours_fn, native_fn, lambda: ([r(3), 2.0, 1.0], {}),
           unsupported=op == "hardtanh_")
    simple(op, "min_val a string", "min_val", ours_fn, native_fn, lambda: ([r(3), "a", 1.0], {}))
    simple(op, "max_val a tensor", "max_val", ours_fn, native_fn, lambda: ([r(3), -1.0, r(2)], {}),
           expect_type="TypeError")
simple("gelu", "approximate unknown", "approximate", F.gelu, NF.gelu, lambda: ([r(3)], {"approximate": "fast"}))
simple("gelu", "approximate not a string", "approximate", F.gelu, NF.gelu, lambda: ([r(3)], {"approximate": 1}))

# ----------------------------------------------------------------------------- loss

bce, native_bce = F.binary_cross_entropy_with_logits, NF.binary_cross_entropy_with_logits
tensor_arg_cases("binary_cross_entropy_with_logits", bce, native_bce,
                 {"input": lambda: r(3, 4), "target": lambda: torch.rand(3, 4),
                  "weight": lambda: torch.rand(4), "pos_weight": lambda: torch.rand(4)},
                 optional=("weight", "pos_weight"))
for name, build in {
    "target shape differs": lambda: ([r(3, 4), torch.rand(4, 3)], {}),
    "weight does not broadcast": lambda: ([r(3, 4), torch.rand(3, 4)], {"weight": torch.rand(3)}),
    "pos_weight does not broadcast": lambda: ([r(3, 4), torch.rand(3, 4)], {"pos_weight": torch.rand(5)}),
    "weight larger than input": lambda: ([r(3, 4), torch.rand(3, 4)], {"weight": torch.rand(2, 3, 4)}),
    "reduction unknown": lambda: ([r(3), torch.rand(3)], {"reduction": "avg"}),
    "reduction an int": lambda: ([r(3), torch.rand(3)], {"reduction": 1}),
    "weight requires grad": lambda: ([r(3), torch.rand(3)], {"weight": torch.rand(3).requires_grad_()}),
    "pos_weight requires grad": lambda: ([r(3), torch.rand(3)], {"pos_weight": torch.rand(3).requires_grad_()}),
}.items():
    arg = ("reduction" if "reduction" in name else "pos_weight" if "pos_weight" in name
           else "weight" if "weight" in name else ("target", "Target", "dtype"))
    simple("binary_cross_entropy_with_logits", name, arg, bce, native_bce, build)
# Native's result dtype for mixed input/target dtypes follows its in-place arithmetic (float32
# input, float64 target: float64; the other way round: float32); torchext asks for one dtype.
simple("binary_cross_entropy_with_logits", "target float64", ("target", "dtype"), bce, native_bce,
       lambda: ([r(3), torch.rand(3, dtype=torch.float64)], {}), unsupported=True)

# ----------------------------------------------------------------------------- conv2d, linear

conv_tensors = {"input": lambda: r(2, 4, 6, 6), "weight": lambda: r(6, 2, 3, 3), "bias": lambda: r(6)}
tensor_arg_cases("conv2d", F.conv2d, NF.conv2d, conv_tensors, {"groups": 2}, optional=("bias",))
for name, arg, build in [
    ("2-D input", "input", lambda: ([r(4, 6), r(6, 4, 3, 3)], {})),
    ("5-D input", "input", lambda: ([r(1, 2, 4, 6, 6), r(6, 4, 3, 3)], {})),
    ("3-D weight", "weight", lambda: ([r(2, 4, 6, 6), r(6, 4, 3)], {})),
    ("5-D weight", "weight", lambda: ([r(2, 4, 6, 6), r(6, 4, 3, 3, 1)], {})),
    ("weight channels differ", "weight", lambda: ([r(2, 4, 6, 6), r(6, 3, 3, 3)], {})),
    ("groups do not divide channels", "groups", lambda: ([r(2, 4, 6, 6), r(6, 2, 3, 3)], {"groups": 3})),
    ("groups do not divide out channels", "groups", lambda: ([r(2, 4, 6, 6), r(5, 2, 3, 3)], {"groups": 2})),
    ("depthwise weight of 2 channels per group", "weight", lambda: ([r(2, 4, 6, 6), r(4, 2, 3, 3)], {"groups": 4})),
    ("depthwise out channels not a multiple", "groups", lambda: ([r(2, 4, 6, 6), r(6, 1, 3, 3)], {"groups": 4})),
    ("groups zero", "groups", lambda: ([r(2, 4, 6, 6), r(6, 4, 3, 3)], {"groups": 0})),
    ("groups negative", "groups", lambda: ([r(2, 4, 6, 6), r(6, 4, 3, 3)], {"groups": -2})),
    ("groups a float", "groups", lambda: ([r(2, 4, 6, 6), r(6, 4, 3, 3)], {"groups": 1.0})),
    ("stride zero", "stride", lambda: ([r(1, 2, 6, 6), r(3, 2, 3, 3)], {"stride": 0})),
    ("stride negative", "stride", lambda: ([r(1, 2, 6, 6), r(3, 2, 3, 3)], {"stride": (1, -1)})),
    ("stride three values", "stride", lambda: ([r(1, 2, 6, 6), r(3, 2, 3, 3)], {"stride": (1, 1, 1)})),
    ("stride a float", "stride", lambda: ([r(1, 2, 6, 6), r(3, 2, 3, 3)], {"stride": 1.5})),
    ("stride a string", "stride", lambda: ([r(1, 2, 6, 6), r(3, 2, 3, 3)], {"stride": "1"})),
    ("stride absurd", "stride", lambda: ([r(1, 2, 6, 6), r(3, 2, 3, 3)], {"stride": 2**40})),
    ("padding negative", "padding", lambda: ([r(1, 2, 6, 6), r(3, 2, 3, 3)], {"padding": -1})),
    ("padding unknown string", "padding", lambda: ([r(1, 2, 6, 6), r(3, 2, 3, 3)], {"padding": "full"})),
    ("padding same with stride 2", "padding", lambda: ([r(1, 2, 6, 6), r(3, 2, 3, 3)], {"padding": "same", "stride": 2})),
    ("padding three values", "padding", lambda: ([r(1, 2, 6, 6), r(3, 2, 3, 3)], {"padding": (1, 1, 1)})),
    ("padding a float", "padding", lambda: ([r(1, 2, 6, 6), r(3, 2, 3, 3)], {"padding": 0.5})),
    ("padding absurd", "padding", lambda: ([r(1, 2, 6, 6), r(3, 2, 3, 3)], {"padding": 2**40})),
    ("padding 2**62 (overflows the padded size)", "padding", lambda: ([r(1, 2, 6, 6), r(3, 2, 3, 3)], {"padding": 2**62})),
    ("dilation 2**62 (overflows the dilated kernel)", "dilation",
     lambda: ([r(1, 2, 6, 6), r(3, 2, 3, 3)], {"dilation": 2**62})),
    ("dilation zero", "dilation", lambda: ([r(1, 2, 6, 6), r(3, 2, 3, 3)], {"dilation": 0})),
    ("dilation negative", "dilation", lambda: ([r(1, 2, 6, 6), r(3, 2, 3, 3)], {"dilation": -1})),
    ("dilation absurd", ("dilation", "dilated kernel"), lambda: ([r(1, 2, 6, 6), r(3, 2, 3, 3)], {"dilation": 2**40})),
    ("kernel larger than input", ("input", "kernel", "output"), lambda: ([r(1, 2, 3, 3), r(3, 2, 5, 5)], {})),
    ("dilated kernel larger than input", ("input", "kernel", "output"),
     lambda: ([r(1, 2, 5, 5), r(3, 2, 3, 3)], {"dilation": 3})),
    ("bias of the wrong size", "bias", lambda: ([r(1, 2, 6, 6), r(3, 2, 3, 3), r(4)], {})),
    ("bias 2-D", "bias", lambda: ([r(1, 2, 6, 6), r(3, 2, 3, 3), r(3, 1)], {})),
    ("bias float64", "bias", lambda: ([r(1, 2, 6, 6), r(3, 2, 3, 3), r(3, dtype=torch.float64)], {})),
    ("weight float64", "weight", lambda: ([r(1, 2, 6, 6), r(3, 2, 3, 3, dtype=torch.float64)], {})),
    ("empty kernel", ("weight", "kernel"), lambda: ([r(1, 2, 6, 6), r(3, 2, 0, 3)], {})),
]:
    # Native's int64 arithmetic wraps around for dilation 2**62 and returns a meaningless 6x6
    # output; torchext refuses.
    simple("conv2d", name, arg, F.conv2d, NF.conv2d, build, unsupported=name.startswith("dilation 2**62"))

tensor_arg_cases("linear", F.linear, NF.linear, {"input": lambda: r(2, 4), "weight": lambda: r(3, 4), "bias": lambda: r(3)},
                 optional=("bias",))
for name, arg, build in [
    ("0-D input", "input", lambda: ([r(), r(3, 4)], {})),
    ("3-D weight", "weight", lambda: ([r(2, 4), r(3, 4, 1)], {})),
    ("in_features differ", ("weight", "input", "shape"), lambda: ([r(2, 4), r(3, 5)], {})),
    ("bias of the wrong size", "bias", lambda: ([r(2, 4), r(3, 4), r(4)], {})),
    ("bias 2-D", "bias", lambda: ([r(2, 4), r(3, 4), r(2, 3)], {})),
    ("weight float64", ("weight", "dtype"), lambda: ([r(2, 4), r(3, 4, dtype=torch.float64)], {})),
    ("1-D weight with bias", ("bias", "weight"), lambda: ([r(2, 4), r(4), r(1)], {})),
]:
    simple("linear", name, arg, F.linear, NF.linear, build)

# ----------------------------------------------------------------------------- batch_norm


def _bn(fn):
    return lambda x, rm, rv, w=None, b=None, **kw: fn(x, rm, rv, w, b, **kw)


bn_tensors = {"input": lambda: r(4, 3, 5, 5), "running_mean": lambda: torch.zeros(3),
              "running_var": lambda: torch.ones(3), "weight": lambda: r(3), "bias": lambda: r(3)}
def _native_bn_relu(x, rm, rv, w=None, b=None, training=False, momentum=0.1, eps=1e-5, residual=None):
    out = NF.batch_norm(x, rm, rv, w, b, training, momentum, eps)
    return NF.relu(out if residual is None else out + residual)


bn_ops = [("batch_norm", F.batch_norm, NF.batch_norm), ("batch_norm_relu", F.batch_norm_relu, _native_bn_relu)]
for (bn_op, bn_ours, bn_native), training in itertools.product(bn_ops, (False, True)):
    mode = "training" if training else "eval"
    for target in bn_tensors:
        for kind in ["int64", "bool", "complex64", "meta"] + (
                ["None"] if target in ("input",) or (not training and target.startswith("running")) else []):
            def build(target=target, kind=kind, training=training):
                args = [None if (n == target and kind == "None") else
                        retyped(b(), kind) if n == target else b() for n, b in bn_tensors.items()]
                return args, {"training": training}
            simple(bn_op, f"{mode} {target} {kind}", target, bn_ours, bn_native, build,
                   unsupported=kind != "None", expect_type="TypeError" if kind == "None" and target == "input" else None)
    for name, arg, build in [
        ("1-D input", "input", lambda: ([r(4), None, None], {"training": True})),
        ("no running stats", "running_mean", lambda: ([r(4, 3), None, None], {})),
        ("running_mean of the wrong size", "running_mean", lambda: ([r(4, 3, 5), torch.zeros(4), torch.ones(3)], {})),
        ("running_var of the wrong size", "running_var", lambda: ([r(4, 3, 5), torch.zeros(3), torch.ones(2)], {})),
        ("weight of the wrong size", "weight", lambda: ([r(4, 3, 5), torch.zeros(3), torch.ones(3), r(4)], {})),
        ("bias of the wrong size", "bias", lambda: ([r(4, 3, 5), torch.zeros(3), torch.ones(3), r(3), r(2)], {})),
        ("running_mean 2-D", "running_mean", lambda: ([r(4, 3), torch.zeros(3, 1), torch.ones(3)], {})),
        ("weight float64", "weight", lambda: ([r(4, 3), torch.zeros(3), torch.ones(3), r(3, dtype=torch.float64)], {})),
        ("running_var float64", "running_var", lambda: ([r(4, 3), torch.zeros(3), torch.ones(3, dtype=torch.float64)], {})),
        ("momentum a string", "momentum", lambda: ([r(4, 3), torch.zeros(3), torch.ones(3)], {"momentum": "x"})),
        ("eps a string", "eps", lambda: ([r(4, 3), torch.zeros(3), torch.ones(3)], {"eps": "x"})),
        ("one value per channel", ("value per channel", "input"), lambda: ([r(1, 3), torch.zeros(3), torch.ones(3)], {})),
    ]:
        def build_mode(build=build, training=training):
            args, kwargs = build()
            return args, {"training": training, **kwargs}
        # Native's F.batch_norm indexes size[1] of a 1-D input (IndexError); torchext's check says what is wrong.
        simple(bn_op, f"{mode} {name}", arg, bn_ours, bn_native, build_mode,
               expect_type="RuntimeError" if name == "1-D input" else None)

for kind in ("int64", "meta"):
    simple("batch_norm_relu", f"residual {kind}", "residual", F.batch_norm_relu, _native_bn_relu,
           lambda kind=kind: ([r(4, 3, 5), None, None], {"training": True, "residual": retyped(r(4, 3, 5), kind)}),
           unsupported=True)
simple("batch_norm_relu", "residual of another shape", "residual", F.batch_norm_relu, _native_bn_relu,
       lambda: ([r(4, 3, 5), None, None], {"training": True, "residual": r(4, 3, 4)}),
       expect_type="RuntimeError")
simple("batch_norm_relu", "residual float64", "residual", F.batch_norm_relu, _native_bn_relu,
       lambda: ([r(4, 3, 5), None, None], {"training": True, "residual": r(4, 3, 5, dtype=torch.float64)}),
       unsupported=True)

# ----------------------------------------------------------------------------- layer_norm, dropout


def _ln(fn):
    return lambda x, w=None, b=None, **kw: fn(x, [4], w, b, **kw)


tensor_arg_cases("layer_norm", _ln(F.layer_norm), _ln(NF.layer_norm),
                 {"input": lambda: r(2, 3, 4), "weight": lambda: r(4), "bias": lambda: r(4)},
                 optional=("weight", "bias"))
for name, arg, build in [
    ("trailing dims differ", ("normalized_shape", "input"), lambda: ([r(2, 3, 4), [3]], {})),
    ("normalized_shape longer than input", ("normalized_shape", "input"), lambda: ([r(4), [2, 4]], {})),
    ("normalized_shape empty", "normalized_shape", lambda: ([r(2, 4), []], {})),
    ("normalized_shape a string", "normalized_shape", lambda: ([r(2, 4), "4"], {})),
    ("weight of the wrong shape", "weight", lambda: ([r(2, 4), [4], r(3)], {})),
    ("bias 2-D", "bias", lambda: ([r(2, 4), [4], r(4), r(1, 4)], {})),
    ("weight float64", "weight", lambda: ([r(2, 4), [4], r(4, dtype=torch.float64)], {})),
    ("eps a string", "eps", lambda: ([r(2, 4), [4]], {"eps": "x"})),
]:
    simple("layer_norm", name, arg, F.layer_norm, NF.layer_norm, build,
           unsupported=name == "weight float64")

tensor_arg_cases("dropout", F.dropout, NF.dropout, {"input": lambda: r(3, 4)}, {"p": 0.5})
tensor_arg_cases("stochastic_depth", F.stochastic_depth, torchvision.ops.stochastic_depth,
                 {"input": lambda: r(3, 4)}, {"p": 0.5, "mode": "row"})
for name, arg, build in [
    ("p above 1", ("p", "probability"), lambda: ([r(3), 1.5], {})),
    ("p negative", ("p", "probability"), lambda: ([r(3), -0.1], {})),
    ("p a string", "p", lambda: ([r(3), "0.5"], {})),
    ("training a string", "training", lambda: ([r(3), 0.5], {"training": "yes"})),
    ("meta input", ("input", "device"), lambda: ([r(3).to("meta"), 0.5], {})),
]:
    simple("dropout", name, arg, F.dropout, NF.dropout, build, unsupported=name == "meta input",
           expect_type="TypeError" if name == "training a string" else None)
for name, arg, build in [
    ("p above 1", ("p", "probability"), lambda: ([r(3, 2), 1.5, "row"], {})),
    ("mode unknown", "mode", lambda: ([r(3, 2), 0.5, "col"], {})),
    ("0-D input, row mode", ("input", "dim"), lambda: ([r(), 0.5, "row"], {})),
]:
    simple("stochastic_depth", name, arg, F.stochastic_depth, torchvision.ops.stochastic_depth, build,
           expect_type="RuntimeError" if name.startswith("0-D") else None)

# ----------------------------------------------------------------------------- softmax, attention

for op, ours_fn, native_fn in (("softmax", F.softmax, NF.softmax), ("log_softmax", F.log_softmax, NF.log_softmax)):
    tensor_arg_cases(op, ours_fn, native_fn, {"input": lambda: r(3, 4)}, {"dim": 1})
    for name, arg, build, unsupported in [
        ("dim out of range", "dim", lambda: ([r(3, 4), 2], {}), False),
        ("dim absurd", "dim", lambda: ([r(3, 4), -2**40], {}), False),
        ("dim a float", "dim", lambda: ([r(3, 4), 1.0], {}), False),
        ("dim out of range of a 0-dim", "dim", lambda: ([r(), 1], {}), False),
        ("dtype int64", "dtype", lambda: ([r(3, 4), 1], {"dtype": torch.int64}), False),
        ("dtype float16", "dtype", lambda: ([r(3, 4), 1], {"dtype": torch.float16}), True),
        ("dtype a string", "dtype", lambda: ([r(3, 4), 1], {"dtype": "float64"}), False),
    ]:
        simple(op, name, arg, ours_fn, native_fn, build, unsupported=unsupported)

_SDPA = "scaled_dot_product_attention"
tensor_arg_cases(_SDPA, F.scaled_dot_product_attention, NF.scaled_dot_product_attention,
                 {"query": lambda: r(1, 2, 3, 4), "key": lambda: r(1, 2, 5, 4), "value": lambda: r(1, 2, 5, 6)})
for name, arg, build, unsupported, expect_type in [
    ("key embedding differs", ("key", "query"), lambda: ([r(1, 2, 3, 4), r(1, 2, 5, 3), r(1, 2, 5, 6)], {}), False, None),
    ("value length differs", ("value", "key"), lambda: ([r(1, 2, 3, 4), r(1, 2, 5, 4), r(1, 2, 6, 6)], {}), False, None),
    ("1-D query", "query", lambda: ([r(4), r(5, 4), r(5, 6)], {}), False, None),
    ("ranks differ", ("key", "query"), lambda: ([r(1, 2, 3, 4), r(2, 5, 4), r(2, 5, 6)], {}), True, None),
    ("heads differ without enable_gqa", ("key", "query"),
     lambda: ([r(1, 4, 3, 4), r(1, 2, 5, 4), r(1, 2, 5, 6)], {}), False, None),
    ("heads do not divide", ("key", "query", "gqa"),
     lambda: ([r(1, 3, 3, 4), r(1, 2, 5, 4), r(1, 2, 5, 4)], {"enable_gqa": True}), False, None),
    ("query broadcast over a batch dim", "query",
     lambda: ([r(1, 2, 3, 4), r(2, 2, 5, 4), r(2, 2, 5, 6)], {}), True, None),
    ("attn_mask int64", "attn_mask",
     lambda: ([r(1, 2, 3, 4), r(1, 2, 5, 4), r(1, 2, 5, 6)], {"attn_mask": torch.ones(3, 5, dtype=torch.int64)}),
     False, None),
    ("attn_mask float64", "attn_mask",
     lambda: ([r(1, 2, 3, 4), r(1, 2, 5, 4), r(1, 2, 5, 6)], {"attn_mask": r(3, 5, dtype=torch.float64)}), True, None),
    ("attn_mask does not broadcast", "attn_mask",
     lambda: ([r(1, 2, 3, 4), r(1, 2, 5, 4), r(1, 2, 5, 6)], {"attn_mask": r(4, 5)}), False, None),
    ("attn_mask 1-D", "attn_mask",
     lambda: ([r(1, 2, 3, 4), r(1, 2, 5, 4), r(1, 2, 5, 6)], {"attn_mask": r(5)}), False, None),
    ("attn_mask with is_causal", ("attn_mask", "is_causal"),
     lambda: ([r(1, 2, 3, 4), r(1, 2, 5, 4), r(1, 2, 5, 6)], {"attn_mask": r(3, 5), "is_causal": True}), False, None),
    ("dropout_p positive", "dropout_p",
     lambda: ([r(1, 2, 3, 4), r(1, 2, 5, 4), r(1, 2, 5, 6)], {"dropout_p": 0.1}), True, "NotImplementedError"),
    ("dropout_p a string", "dropout_p",
     lambda: ([r(1, 2, 3, 4), r(1, 2, 5, 4), r(1, 2, 5, 6)], {"dropout_p": "x"}), False, None),
    ("is_causal a string", "is_causal",
     lambda: ([r(1, 2, 3, 4), r(1, 2, 5, 4), r(1, 2, 5, 6)], {"is_causal": "yes"}), False, None),
    ("scale a string", "scale",
     lambda: ([r(1, 2, 3, 4), r(1, 2, 5, 4), r(1, 2, 5, 6)], {"scale": "x"}), False, None),
]:
    simple(_SDPA, name, arg, F.scaled_dot_product_attention, NF.scaled_dot_product_attention, build,
           unsupported=unsupported, expect_type=expect_type)

# ----------------------------------------------------------------------------- pooling

tensor_arg_cases("max_pool2d", F.max_pool2d, NF.max_pool2d, {"input": lambda: r(2, 3, 6, 6)}, {"kernel_size": 2})
for name, arg, build in [
    ("2-D input", "input", lambda: ([r(6, 6), 2], {})),
    ("5-D input", "input", lambda: ([r(1, 2, 3, 6, 6), 2], {})),
    ("empty spatial input", "input", lambda: ([r(2, 3, 0, 6), 1], {})),
    ("kernel zero", "kernel_size", lambda: ([r(1, 2, 6, 6), 0], {})),
    ("kernel negative", "kernel_size", lambda: ([r(1, 2, 6, 6), (2, -1)], {})),
    ("kernel three values", "kernel_size", lambda: ([r(1, 2, 6, 6), (2, 2, 2)], {})),
    ("kernel a float", "kernel_size", lambda: ([r(1, 2, 6, 6), 2.0], {})),
    ("kernel a string", "kernel_size", lambda: ([r(1, 2, 6, 6), "2"], {})),
    ("kernel None", "kernel_size", lambda: ([r(1, 2, 6, 6), None], {})),
    ("kernel 2**31", ("kernel_size", "output", "pad"), lambda: ([r(1, 2, 6, 6), 2**31], {})),
    ("kernel absurd", ("kernel_size", "output", "pad"), lambda: ([r(1, 2, 6, 6), 2**40], {})),
    ("kernel larger than input", ("kernel_size", "output", "input"), lambda: ([r(1, 2, 3, 3), 4], {})),
    ("stride zero", "stride", lambda: ([r(1, 2, 6, 6), 2], {"stride": 0})),
    ("stride negative", "stride", lambda: ([r(1, 2, 6, 6), 2], {"stride": -1})),
    ("stride a float", "stride", lambda: ([r(1, 2, 6, 6), 2], {"stride": 1.5})),
    ("stride three values", "stride", lambda: ([r(1, 2, 6, 6), 2], {"stride": (1, 1, 1)})),
    ("dilation 2**62 (overflows the window)", ("dilation", "overflow"), lambda: ([r(1, 2, 6, 6), 3], {"dilation": 2**62})),
    ("padding over half the kernel", "pad", lambda: ([r(1, 2, 6, 6), 3], {"padding": 2})),
    ("padding negative", "pad", lambda: ([r(1, 2, 6, 6), 3], {"padding": -1})),
    ("padding a float", "padding", lambda: ([r(1, 2, 6, 6), 3], {"padding": 0.5})),
    ("padding absurd", ("pad", "padding"), lambda: ([r(1, 2, 6, 6), 3], {"padding": 2**40})),
    ("dilation zero", "dilation", lambda: ([r(1, 2, 6, 6), 2], {"dilation": 0})),
    ("dilation negative", "dilation", lambda: ([r(1, 2, 6, 6), 2], {"dilation": -2})),
    ("dilation absurd", ("dilation", "output"), lambda: ([r(1, 2, 6, 6), 2], {"dilation": 2**40})),
    ("dilated kernel larger than input", ("output", "input", "kernel"), lambda: ([r(1, 2, 5, 5), 3], {"dilation": 3})),
    ("ceil_mode a string", "ceil_mode", lambda: ([r(1, 2, 6, 6), 2], {"ceil_mode": "yes"})),
]:
    simple("max_pool2d", name, arg, F.max_pool2d, NF.max_pool2d, build)
# Valid poolings that native refuses only because it computes in int32: torchext must give the
# result native gives for the same windows with small arguments.
for name, ours_kwargs, reference_kwargs in [
    ("stride absurd (one window per dim)", {"kernel_size": 2, "stride": 2**40}, {"kernel_size": 2, "stride": 6}),
    ("kernel 2**40, padding 2**39 (one window over the whole input)", {"kernel_size": 2**40, "padding": 2**39},
     {"kernel_size": 12, "padding": 6}),
    ("kernel 2**62, padding 2**61 (one window over the whole input)", {"kernel_size": 2**62, "padding": 2**61},
     {"kernel_size": 12, "padding": 6}),
]:
    simple("max_pool2d", name, "kernel_size", lambda **kw: F.max_pool2d(return_indices=True, **kw),
           lambda reference_kwargs=reference_kwargs, **kw: NF.max_pool2d(return_indices=True,
                                                                         **{**kw, **reference_kwargs}),
           lambda ours_kwargs=ours_kwargs: ([], {"input": r(2, 3, 6, 6), **ours_kwargs}))

tensor_arg_cases("adaptive_avg_pool2d", F.adaptive_avg_pool2d, NF.adaptive_avg_pool2d,
                 {"input": lambda: r(2, 3, 6, 6)}, {"output_size": 3})
for name, arg, build in [
    ("2-D input", "input", lambda: ([r(6, 6), 2], {})),
    ("5-D input", "input", lambda: ([r(1, 2, 3, 6, 6), 2], {})),
    ("empty spatial input", "input", lambda: ([r(2, 3, 0, 6), 2], {})),
    ("output_size zero", "output_size", lambda: ([r(1, 2, 6, 6), 0], {})),
    ("output_size negative", "output_size", lambda: ([r(1, 2, 6, 6), (2, -1)], {})),
    ("output_size 2**40", "output_size", lambda: ([r(1, 2, 6, 6), 2**40], {})),
    ("output_size 2**31 x 2**31", "output_size", lambda: ([r(1, 2, 6, 6), (2**31, 2**31)], {})),
    ("output_size 2**62", "output_size", lambda: ([r(1, 2, 6, 6), 2**62], {})),
    ("output_size three values", "output_size", lambda: ([r(1, 2, 6, 6), (2, 2, 2)], {})),
    ("output_size a float", "output_size", lambda: ([r(1, 2, 6, 6), 2.5], {})),
    ("output_size a string", "output_size", lambda: ([r(1, 2, 6, 6), "2"], {})),
    ("output_size None", "output_size", lambda: ([r(1, 2, 6, 6), None], {})),
]:
    simple("adaptive_avg_pool2d", name, arg, F.adaptive_avg_pool2d, NF.adaptive_avg_pool2d, build)

# ----------------------------------------------------------------------------- modules (patched)


def module_pair(make, build):
    """(ours, native) thunks: a torch.nn module made by `make`, patched and native, on build()."""
    def ours():
        torch.manual_seed(0)
        module = torchext.patch(make())
        torch.manual_seed(1)
        return module(*build())

    def native():
        torch.manual_seed(0)
        module = make()
        torch.manual_seed(1)
        return module(*build())
    return ours, native


for op, make, cases in [
    ("conv2d", lambda: nn.Conv2d(4, 6, 3, groups=2), [
        ("3-D input of the wrong channels", ("input", "weight", "channels"), lambda: [r(3, 6, 6)]),
        ("input channels differ", ("input", "weight", "channels"), lambda: [r(2, 3, 6, 6)]),
        ("input too small", ("input", "kernel", "output"), lambda: [r(2, 4, 2, 2)]),
        ("int64 input", "input", lambda: [r(2, 4, 6, 6).to(torch.int64)]),
        ("meta input", ("input", "weight", "device"), lambda: [r(2, 4, 6, 6).to("meta")]),
        ("None input", "input", lambda: [None]),
    ]),
    ("conv2d", lambda: nn.Conv2d(2, 3, 3, stride=0), [("stride zero", "stride", lambda: [r(1, 2, 6, 6)])]),
    ("conv2d", lambda: nn.Conv2d(2, 3, 3, padding=-1), [("padding negative", "padding", lambda: [r(1, 2, 6, 6)])]),
    ("batch_norm", lambda: nn.BatchNorm2d(3), [
        ("3-D input", ("input", "4D"), lambda: [r(3, 5, 5)]),
        ("channels differ", ("input", "running_mean", "weight", "channels"), lambda: [r(2, 4, 5, 5)]),
        ("int64 input", "input", lambda: [r(2, 3, 5, 5).to(torch.int64)]),
        ("meta input", ("input", "running_mean", "weight", "device"), lambda: [r(2, 3, 5, 5).to("meta")]),
        ("one value per channel", ("value per channel", "input"), lambda: [r(1, 3, 1, 1)]),
    ]),
    ("batch_norm", lambda: nn.BatchNorm1d(3), [
        ("4-D input", ("input", "2D", "3D"), lambda: [r(2, 3, 4, 4)]),
        ("channels differ", ("input", "running_mean", "weight", "channels"), lambda: [r(2, 4, 5)]),
    ]),
    ("layer_norm", lambda: nn.LayerNorm(4), [("trailing dims differ", ("normalized_shape", "input"), lambda: [r(2, 5)]),
                                             ("int64 input", "input", lambda: [r(2, 4).to(torch.int64)])]),
    ("dropout", lambda: nn.Dropout(0.3), [("int64 input", "input", lambda: [r(2, 4).to(torch.int64)])]),
    ("softmax", lambda: nn.Softmax(dim=1), [("int64 input", "input", lambda: [r(2, 4).to(torch.int64)]),
                                            ("dim out of range", "dim", lambda: [r(4)])]),
    ("log_softmax", lambda: nn.LogSoftmax(dim=0), [("int64 input", "input", lambda: [r(2, 4).to(torch.int64)])]),
    ("stochastic_depth", lambda: torchvision.ops.StochasticDepth(0.3, "row"),
     [("int64 input", "input", lambda: [r(2, 4).to(torch.int64)])]),
    ("relu", lambda: nn.ReLU(), [("None input", "input", lambda: [None]),
                                 ("bool input", "input", lambda: [r(3) > 0])]),
    ("relu_", lambda: nn.ReLU(inplace=True), [("leaf that requires grad", ("leaf", "in-place", "inplace"),
                                               lambda: [r(3).requires_grad_()])]),
    ("sigmoid", lambda: nn.Sigmoid(), [("int64 input", "input", lambda: [r(3).to(torch.int64)])]),
    ("silu", lambda: nn.SiLU(inplace=True), [("leaf that requires grad", ("leaf", "in-place", "inplace"),
                                              lambda: [r(3).requires_grad_()])]),
    ("hardtanh", lambda: nn.Hardtanh(-2.0, 2.0), [("int64 input", "input", lambda: [r(3).to(torch.int64)])]),
    ("relu6", lambda: nn.ReLU6(inplace=True), [("leaf that requires grad", ("leaf", "in-place", "inplace"),
                                                lambda: [r(3).requires_grad_()])]),
    ("hardswish", lambda: nn.Hardswish(), [("bool input", "input", lambda: [r(3) > 0])]),
    ("hardsigmoid", lambda: nn.Hardsigmoid(), [("complex input", "input", lambda: [r(3).to(torch.complex64)])]),
    ("gelu", lambda: nn.GELU(approximate="fast"), [("approximate unknown", "approximate", lambda: [r(3)])]),
    ("max_pool2d", lambda: nn.MaxPool2d(3, padding=2), [("padding over half the kernel", "pad", lambda: [r(1, 2, 6, 6)])]),
    ("max_pool2d", lambda: nn.MaxPool2d(2, stride=0), [("stride zero", "stride", lambda: [r(1, 2, 6, 6)])]),
    ("max_pool2d", lambda: nn.MaxPool2d(2), [("2-D input", "input", lambda: [r(6, 6)]),
                                             ("int64 input", "input", lambda: [r(1, 2, 6, 6).to(torch.int64)])]),
    ("adaptive_avg_pool2d", lambda: nn.AdaptiveAvgPool2d(0), [("output_size zero", "output_size", lambda: [r(1, 2, 6, 6)])]),
    ("adaptive_avg_pool2d", lambda: nn.AdaptiveAvgPool2d((2, 2)), [("2-D input", "input", lambda: [r(6, 6)])]),
    ("linear", lambda: nn.Linear(4, 3), [
        ("in_features differ", ("input", "weight", "shape"), lambda: [r(2, 5)]),
        ("0-D input", "input", lambda: [r()]),
        ("complex input", "input", lambda: [r(2, 4).to(torch.complex64)]),
        ("meta input", ("input", "weight", "device"), lambda: [r(2, 4).to("meta")]),
    ]),
    ("flatten", lambda: nn.Flatten(start_dim=5), [("start_dim out of range", "dim", lambda: [r(2, 3)])]),
    ("flatten", lambda: nn.Flatten(start_dim=2, end_dim=1), [("start after end", "dim", lambda: [r(2, 3, 4)])]),
]:
    for name, arg, build in cases:
        ours, native = module_pair(make, build)
        add(f"nn.{type(make()).__name__}/{name}", op, arg, ours, native,
            unsupported=any(k in name for k in ("int64", "bool", "complex", "meta")))

# ----------------------------------------------------------------------------- optimizer


def sgd_pair(kwargs, params=lambda: [torch.zeros(3, requires_grad=True)], grads=None):
    def run(cls):
        def thunk():
            ps = params()
            opt = cls(ps, **kwargs)
            for p, g in zip(ps, grads() if grads else [torch.ones_like(p) for p in ps]):
                p.grad = g
            opt.step()
            return [p.detach() for p in ps]
        return thunk
    return run(torchext.optim.SGD), run(torch.optim.SGD)


for name, arg, kwargs in [
    ("lr negative", "learning rate", {"lr": -1.0}),
    ("momentum negative", "momentum", {"lr": 0.1, "momentum": -0.5}),
    ("weight_decay negative", "weight_decay", {"lr": 0.1, "weight_decay": -1.0}),
    ("nesterov without momentum", "Nesterov", {"lr": 0.1, "nesterov": True}),
    ("lr a string", "lr", {"lr": "x"}),
]:
    ours, native = sgd_pair(kwargs)
    add(f"optim.SGD/{name}", "SGD", (arg,), ours, native)
for name, params, grads in [
    ("float16 params", lambda: [torch.zeros(3, dtype=torch.float16, requires_grad=True)], None),
    ("int params", lambda: [torch.zeros(3, dtype=torch.int64)], lambda: [torch.ones(3, dtype=torch.int64)]),
    ("complex params", lambda: [torch.zeros(3, dtype=torch.complex64, requires_grad=True)], None),
]:
    ours, native = sgd_pair({"lr": 0.1, "momentum": 0.9}, params, grads)
    add(f"optim.SGD/{name}", "sgd_step_", ("params",), ours, native, unsupported=True)

# ----------------------------------------------------------------------------- raw dispatcher ops
# The ops the Functions call, with arguments the public functions never pass (a user may call
# torch.ops.torchext.* directly). torchext-only: no native counterpart, ours must raise.

ops = torchext.ops
for name, op, arg, thunk in [
    ("conv2d padding of 2 values", "conv2d", "padding",
     lambda: ops.conv2d(r(1, 2, 6, 6), r(3, 2, 3, 3), None, [1, 1], [1, 1], [1, 1], 1)),
    ("conv2d stride of 1 value", "conv2d", "stride",
     lambda: ops.conv2d(r(1, 2, 6, 6), r(3, 2, 3, 3), None, [1], [1, 1, 1, 1], [1, 1], 1)),
    ("conv2d_backward grad of the wrong shape", "conv2d", "grad_output",
     lambda: ops.conv2d_backward(r(1, 3, 5, 5), r(1, 2, 6, 6), r(3, 2, 3, 3), [1, 1], [0, 0, 0, 0], [1, 1], 1,
                                 [True, True, True])),
    ("conv2d_backward grad int64", "conv2d", "grad_output",
     lambda: ops.conv2d_backward(torch.zeros(1, 3, 4, 4, dtype=torch.int64), r(1, 2, 6, 6), r(3, 2, 3, 3), [1, 1],
                                 [0, 0, 0, 0], [1, 1], 1, [True, True, True])),
    ("linear_backward grad of the wrong shape", "linear", "grad_output",
     lambda: ops.linear_backward(r(2, 4), r(2, 4), r(3, 4), [True, True, True])),
    ("relu_backward shapes differ", "relu_backward", "grad_output", lambda: ops.relu_backward(r(3), r(4))),
    ("relu_backward dtypes differ", "relu_backward", ("grad_output", "result"),
     lambda: ops.relu_backward(r(3), r(3, dtype=torch.float64))),
    ("add_relu shapes differ", "add_relu", "other", lambda: ops.add_relu(r(3), r(4))),
    ("sigmoid_backward shapes differ", "sigmoid_backward", ("grad_output", "output"),
     lambda: ops.sigmoid_backward(r(3), r(4))),
    ("silu_backward dtypes differ", "silu_backward", ("grad_output", "self"),
     lambda: ops.silu_backward(r(3), r(3, dtype=torch.float64))),
    ("hardtanh_backward min_val above max_val", "hardtanh_backward", "min_val",
     lambda: ops.hardtanh_backward(r(3), r(3), 1.0, -1.0)),
    ("hardswish_double_backward shapes differ", "hardswish_double_backward", ("grad_grad", "self"),
     lambda: ops.hardswish_double_backward(r(4), r(3), r(3))),
    ("gelu_backward approximate unknown", "gelu_backward", "approximate",
     lambda: ops.gelu_backward(r(3), r(3), "fast")),
    ("hardsigmoid_ int64", "hardsigmoid_", "self", lambda: ops.hardsigmoid_(torch.zeros(3, dtype=torch.int64), True)),
    ("bce reduction 7", "binary_cross_entropy_with_logits", "reduction",
     lambda: ops.binary_cross_entropy_with_logits(r(3), r(3), None, None, 7)),
    ("bce_backward grad does not broadcast", "binary_cross_entropy_with_logits", "grad_output",
     lambda: ops.binary_cross_entropy_with_logits_backward(r(4), r(3), r(3), None, None, 0, [True, True])),
    ("sum dtype int64", "sum", "dtype", lambda: ops.sum(r(3), None, False, torch.int64)),
    ("matmul 0-D", "matmul", ("self", "1-D", "dimension"), lambda: ops.matmul(r(), r(3))),
    ("max_pool2d kernel of 1 value", "max_pool2d", "kernel_size",
     lambda: ops.max_pool2d(r(1, 2, 6, 6), [2], [2, 2], [0, 0], [1, 1], False)),
    ("max_pool2d_backward indices out of range", "max_pool2d", "indices",
     lambda: ops.max_pool2d_backward(r(1, 1, 2, 2), r(1, 1, 4, 4), torch.full((1, 1, 2, 2), 10**6, dtype=torch.int64))),
    ("max_pool2d_backward indices negative", "max_pool2d", "indices",
     lambda: ops.max_pool2d_backward(r(1, 1, 2, 2), r(1, 1, 4, 4), torch.full((1, 1, 2, 2), -5, dtype=torch.int64))),
    ("max_pool2d_backward indices float", "max_pool2d", "indices",
     lambda: ops.max_pool2d_backward(r(1, 1, 2, 2), r(1, 1, 4, 4), torch.zeros(1, 1, 2, 2))),
    ("max_pool2d_backward indices of the wrong shape", "max_pool2d", "indices",
     lambda: ops.max_pool2d_backward(r(1, 1, 2, 2), r(1, 1, 4, 4), torch.zeros(1, 1, 3, 2, dtype=torch.int64))),
    ("max_pool2d_double_backward indices out of range", "max_pool2d_double_backward", "indices",
     lambda: ops.max_pool2d_double_backward(r(1, 1, 4, 4), torch.full((1, 1, 2, 2), 16, dtype=torch.int64))),
    ("max_pool2d_double_backward indices below -1", "max_pool2d_double_backward", "indices",
     lambda: ops.max_pool2d_double_backward(r(1, 1, 4, 4), torch.full((1, 1, 2, 2), -2, dtype=torch.int64))),
    ("max_pool2d_double_backward indices float", "max_pool2d_double_backward", "indices",
     lambda: ops.max_pool2d_double_backward(r(1, 1, 4, 4), torch.zeros(1, 1, 2, 2))),
    ("max_pool2d_double_backward channels differ", "max_pool2d_double_backward", "indices",
     lambda: ops.max_pool2d_double_backward(r(1, 2, 4, 4), torch.zeros(1, 1, 2, 2, dtype=torch.int64))),
    ("max_pool2d_double_backward 2-D", "max_pool2d_double_backward", "grad_grad_input",
     lambda: ops.max_pool2d_double_backward(r(4, 4), torch.zeros(2, 2, dtype=torch.int64))),
    ("adaptive_avg_pool2d_backward grad of the wrong rank", "adaptive_avg_pool2d", "grad_output",
     lambda: ops.adaptive_avg_pool2d_backward(r(2, 2), r(1, 1, 4, 4))),
    ("adaptive_avg_pool2d_backward grad channels differ", "adaptive_avg_pool2d", "grad_output",
     lambda: ops.adaptive_avg_pool2d_backward(r(1, 3, 2, 2), r(1, 1, 4, 4))),
    ("batch_norm_backward save_mean of the wrong size", "batch_norm", "save_mean",
     lambda: ops.batch_norm_backward(r(2, 3, 4, 4), r(2, 3, 4, 4), None, None, None, r(2), r(3), True, 1e-5,
                                     [True, True, True])),
    ("batch_norm_backward grad of the wrong shape", "batch_norm", "grad_output",
     lambda: ops.batch_norm_backward(r(2, 3, 4, 5), r(2, 3, 4, 4), None, None, None, r(3), r(3), True, 1e-5,
                                     [True, True, True])),
    ("batch_norm_relu_backward output of the wrong shape", "batch_norm_relu", "output",
     lambda: ops.batch_norm_relu_backward(r(2, 3, 4, 4), r(2, 3, 4, 5), r(2, 3, 4, 4), None, None, None, r(3), r(3),
                                          True, 1e-5, [True, True, True, True])),
    ("layer_norm_backward rstd of the wrong size", "layer_norm", "rstd",
     lambda: ops.layer_norm_backward(r(2, 4), r(2, 4), [4], r(2, 1), r(3, 1), None, [True, True, True])),
    ("layer_norm_backward grad of the wrong shape", "layer_norm", "grad_output",
     lambda: ops.layer_norm_backward(r(2, 5), r(2, 4), [4], r(2, 1), r(2, 1), None, [True, True, True])),
    ("dropout rng_state of the wrong size", "dropout", "rng_state",
     lambda: ops.dropout(r(3, 4), 0.5, torch.zeros(100, dtype=torch.uint8))),
    ("dropout rng_state float", "dropout", "rng_state",
     lambda: ops.dropout(r(3, 4), 0.5, torch.zeros(5056))),
    ("dropout rng_state not MT19937", "dropout", "rng_state",
     lambda: ops.dropout(r(3, 4), 0.5, torch.zeros(5056, dtype=torch.uint8))),
    ("dropout_backward mask of the wrong shape", "dropout", "mask",
     lambda: ops.dropout_backward(r(3, 4), torch.ones(3, 5, dtype=torch.uint8), 0.5)),
    ("dropout_backward mask float", "dropout", "mask",
     lambda: ops.dropout_backward(r(3, 4), torch.ones(3, 4), 0.5)),
    ("softmax_backward grad of the wrong shape", "softmax", "grad_output",
     lambda: ops.softmax_backward(r(3, 5), r(3, 4), 1, torch.float32)),
    ("log_softmax_backward input_dtype int64", "log_softmax", "input_dtype",
     lambda: ops.log_softmax_backward(r(3, 4), r(3, 4), 1, torch.int64)),
    ("attention_backward lse of the wrong size", _SDPA, "lse",
     lambda: ops.scaled_dot_product_attention_backward(r(1, 3, 6), r(1, 3, 4), r(1, 5, 4), r(1, 5, 6), None,
                                                       r(1, 3, 6), r(1, 4), False, None, False, False)),
    ("attention_backward grad_out of the wrong shape", _SDPA, "grad_out",
     lambda: ops.scaled_dot_product_attention_backward(r(1, 3, 5), r(1, 3, 4), r(1, 5, 4), r(1, 5, 6), None,
                                                       r(1, 3, 6), r(1, 3), False, None, False, False)),
    ("attention_backward mask_grad without a mask", _SDPA, "mask_grad",
     lambda: ops.scaled_dot_product_attention_backward(r(1, 3, 6), r(1, 3, 4), r(1, 5, 4), r(1, 5, 6), None,
                                                       r(1, 3, 6), r(1, 3), False, None, False, True)),
    ("sgd_step_ fewer grads than params", "sgd_step_", "grads",
     lambda: ops.sgd_step_([r(3), r(2)], [r(3)], [], 0.1, 0.0, 0.0, 0.0, False, False, False)),
    ("sgd_step_ grad of the wrong shape", "sgd_step_", "grads",
     lambda: ops.sgd_step_([r(3)], [r(4)], [], 0.1, 0.0, 0.0, 0.0, False, False, False)),
    ("sgd_step_ momentum buffer missing", "sgd_step_", "momentum_buffers",
     lambda: ops.sgd_step_([r(3)], [r(3)], [], 0.1, 0.9, 0.0, 0.0, False, False, False)),
    ("sgd_step_ grad float64 for a float32 param", "sgd_step_", "grads",
     lambda: ops.sgd_step_([r(3)], [r(3, dtype=torch.float64)], [], 0.1, 0.0, 0.0, 0.0, False, False, False)),
    ("sgd_step_ grad on meta", "sgd_step_", "grads",
     lambda: ops.sgd_step_([r(3)], [r(3).to("meta")], [], 0.1, 0.0, 0.0, 0.0, False, False, False)),
    ("sgd_step_ params of mixed dtypes", "sgd_step_", "params",
     lambda: ops.sgd_step_([r(3), r(3, dtype=torch.float64)], [r(3), r(3, dtype=torch.float64)], [], 0.1, 0.0,
                           0.0, 0.0, False, False, False)),
]:
    add(f"ops.{name}", op, (arg,) if isinstance(arg, str) else arg, thunk)


# ----------------------------------------------------------------------------- structural ops (issue 14)

tensor_arg_cases("div", F.div, torch.div, {"input": lambda: r(3, 4), "other": lambda: r(3, 4)})
for name, arg, build, unsupported in [
    ("shapes do not broadcast", ("other", "self", "size", "shape"), lambda: ([r(3, 4), r(5)], {}), False),
    ("other a string", "other", lambda: ([r(3), "2"], {}), False),
    ("other a complex number", "other", lambda: ([r(3), 1 + 2j], {}), True),
    ("both numbers", ("input", "other"), lambda: ([2.0, 3.0], {}), True),
    ("divide by zero", "other", lambda: ([r(3), torch.zeros(3)], {}), False),
    ("rounding_mode trunc", "rounding_mode", lambda: ([r(3), r(3)], {"rounding_mode": "trunc"}), True),
    ("rounding_mode floor", "rounding_mode", lambda: ([r(3), 2.0], {"rounding_mode": "floor"}), True),
    ("rounding_mode unknown", "rounding_mode", lambda: ([r(3), r(3)], {"rounding_mode": "round"}), False),
]:
    simple("div", name, arg, F.div, torch.div, build, unsupported=unsupported)
for kind in ("int64", "bool", "complex64"):
    simple("pow", f"exponent tensor {kind}", "exponent", F.pow, torch.pow,
           lambda kind=kind: ([r(3, 4), retyped(r(3, 4), kind)], {}), unsupported=True)
simple("pow", "exponent tensor on meta", ("exponent", "self", "device"), F.pow, torch.pow,
       lambda: ([r(3, 4), r(3, 4).to("meta")], {}), unsupported=True)
simple("pow", "exponent tensor does not broadcast", ("exponent", "self", "size"), F.pow, torch.pow,
       lambda: ([r(3, 4), r(5)], {}))
simple("pow", "negative base, fractional tensor exponent", "exponent", F.pow, torch.pow,
       lambda: ([-r(3).abs() - 0.5, torch.full((3,), 0.5)], {}))

tensor_arg_cases("mean", F.mean, torch.mean, {"input": lambda: r(3, 4)})
for name, arg, build in [
    ("dim out of range", "dim", lambda: ([r(3, 4), 2], {})),
    ("dim repeated", "dim", lambda: ([r(3, 4), [0, -2]], {})),
    ("dim a float", "dim", lambda: ([r(3, 4), 1.5], {})),
    ("dtype int64", "dtype", lambda: ([r(3, 4)], {"dtype": torch.int64})),
    ("dtype a string", "dtype", lambda: ([r(3, 4)], {"dtype": "float32"})),
    ("keepdim a string", "keepdim", lambda: ([r(3, 4), 0], {"keepdim": "yes"})),
    ("empty (NaN)", "input", lambda: ([r(0, 4), 0], {})),
]:
    simple("mean", name, arg, F.mean, torch.mean, build)

tensor_arg_cases("avg_pool2d", F.avg_pool2d, NF.avg_pool2d, {"input": lambda: r(2, 3, 6, 6)}, {"kernel_size": 2})
for name, arg, build in [
    ("2-D input", "input", lambda: ([r(6, 6), 2], {})),
    ("5-D input", "input", lambda: ([r(1, 2, 3, 6, 6), 2], {})),
    ("empty spatial input", "input", lambda: ([r(2, 3, 0, 6), 1], {})),
    ("kernel zero", "kernel_size", lambda: ([r(1, 2, 6, 6), 0], {})),
    ("kernel negative", "kernel_size", lambda: ([r(1, 2, 6, 6), (2, -1)], {})),
    ("kernel three values", "kernel_size", lambda: ([r(1, 2, 6, 6), (2, 2, 2)], {})),
    ("kernel a float", "kernel_size", lambda: ([r(1, 2, 6, 6), 2.0], {})),
    ("kernel None", "kernel_size", lambda: ([r(1, 2, 6, 6), None], {})),
    ("kernel absurd", ("kernel_size", "output", "pad"), lambda: ([r(1, 2, 6, 6), 2**40], {})),
    ("kernel larger than input", ("kernel_size", "output", "input"), lambda: ([r(1, 2, 3, 3), 4], {})),
    ("stride zero", "stride", lambda: ([r(1, 2, 6, 6), 2], {"stride": 0})),
    ("stride negative", "stride", lambda: ([r(1, 2, 6, 6), 2], {"stride": -1})),
    ("stride a float", "stride", lambda: ([r(1, 2, 6, 6), 2], {"stride": 1.5})),
    ("padding over half the kernel", "pad", lambda: ([r(1, 2, 6, 6), 3], {"padding": 2})),
    ("padding negative", "pad", lambda: ([r(1, 2, 6, 6), 3], {"padding": -1})),
    ("divisor_override zero", ("divisor_override", "divisor"), lambda: ([r(1, 2, 6, 6), 2], {"divisor_override": 0})),
    ("divisor_override a float", "divisor_override", lambda: ([r(1, 2, 6, 6), 2], {"divisor_override": 2.5})),
    ("count_include_pad a string", "count_include_pad", lambda: ([r(1, 2, 6, 6), 2], {"count_include_pad": "no"})),
    ("ceil_mode a string", "ceil_mode", lambda: ([r(1, 2, 6, 6), 2], {"ceil_mode": "yes"})),
]:
    simple("avg_pool2d", name, arg, F.avg_pool2d, NF.avg_pool2d, build)
for name, make, build in [
    ("padding over half the kernel", lambda: nn.AvgPool2d(3, padding=2), lambda: [r(1, 2, 6, 6)]),
    ("2-D input", lambda: nn.AvgPool2d(2), lambda: [r(6, 6)]),
    ("int64 input", lambda: nn.AvgPool2d(2), lambda: [r(1, 2, 6, 6).to(torch.int64)]),
]:
    ours, native = module_pair(make, build)
    add(f"nn.AvgPool2d/{name}", "avg_pool2d", ("pad", "input", "self"), ours, native, unsupported="int64" in name)

for name, arg, build, unsupported, expect_type in [
    ("empty list", "tensors", lambda: ([[]], {}), False, None),
    ("tensors a tensor", "tensors", lambda: ([r(3, 4)], {}), False, None),
    ("a number in the list", "tensors", lambda: ([[r(3), 2]], {}), False, None),
    ("None in the list", "tensors", lambda: ([[r(3), None]], {}), False, "TypeError"),
    ("int64 tensor", "tensors", lambda: ([[r(3), r(3).to(torch.int64)]], {}), True, None),
    ("bool tensor", "tensors", lambda: ([[r(3) > 0, r(3)]], {}), True, None),
    ("complex64 tensor", "tensors", lambda: ([[r(3), r(3).to(torch.complex64)]], {}), True, None),
    ("a tensor on meta", ("tensors", "device"), lambda: ([[r(3), r(3).to("meta")]], {}), True, None),
    ("0-dim tensor", ("tensors", "zero-dimensional"), lambda: ([[r(3), r()]], {}), False, None),
    ("sizes differ", ("tensors", "size"), lambda: ([[r(2, 3), r(2, 4)]], {}), False, None),
    ("ranks differ", ("tensors", "dimensions"), lambda: ([[r(2, 3), r(2, 3, 4)]], {}), False, None),
    ("dim out of range", "dim", lambda: ([[r(2, 3), r(2, 3)], 2], {}), False, None),
    ("dim absurd", "dim", lambda: ([[r(2, 3)], -2**40], {}), False, None),
    ("dim a float", "dim", lambda: ([[r(2, 3)], 1.0], {}), False, None),
    ("only legacy empty tensors", "tensors", lambda: ([[r(0), r(0)], 3], {}), False, None),
]:
    simple("cat", name, arg, F.cat, torch.cat, build, unsupported=unsupported, expect_type=expect_type)

for name, arg, build in [
    ("0-dim input", "input", lambda: ([r(), 1], {})),
    ("split_size negative", "split_size", lambda: ([r(5), -1], {})),
    ("split_size 0 on a non-empty dim", "split_size", lambda: ([r(5), 0], {})),
    ("split_size a float", "split_size", lambda: ([r(5), 2.0], {})),
    ("sizes do not add up", ("split", "sizes", "split_sizes"), lambda: ([r(5), [2, 2]], {})),
    ("a negative size", ("split", "sizes", "split_sizes"), lambda: ([r(5), [2, -1, 4]], {})),
    ("dim out of range", "dim", lambda: ([r(5), 2, 1], {})),
    ("dim absurd", "dim", lambda: ([r(5), 2, -2**40], {})),
    ("int64 input (views)", "input", lambda: ([r(6).to(torch.int64), 4], {})),
    ("on meta", "input", lambda: ([r(6, 2).to("meta"), [1, 5]], {})),
]:
    simple("split", name, arg, F.split, torch.split, build)
# Native's torch.split (Python) trips with AttributeError on a list.
simple("split", "input a list", "input", F.split, torch.split, lambda: ([[1.0, 2.0], 1], {}), expect_type="TypeError")
for name, arg, build in [
    ("0-dim input", "input", lambda: ([r(), 1], {})),
    ("chunks zero", "chunks", lambda: ([r(5), 0], {})),
    ("chunks negative", "chunks", lambda: ([r(5), -2], {})),
    ("chunks a float", "chunks", lambda: ([r(5), 2.0], {})),
    ("chunks absurd", "chunks", lambda: ([r(5), 2**62], {})),
    ("dim out of range", "dim", lambda: ([r(5), 2, -2], {})),
    ("bool input (views)", "input", lambda: ([r(6) > 0, 4], {})),
]:
    simple("chunk", name, arg, F.chunk, torch.chunk, build)

for name, op, arg, thunk in [
    ("avg_pool2d_backward grad of the wrong shape", "avg_pool2d", "grad_output",
     lambda: ops.avg_pool2d_backward(r(1, 1, 3, 2), r(1, 1, 4, 4), [2, 2], [2, 2], [0, 0], False, True, None)),
    ("avg_pool2d_backward grad channels differ", "avg_pool2d", "grad_output",
     lambda: ops.avg_pool2d_backward(r(1, 3, 2, 2), r(1, 1, 4, 4), [2, 2], [2, 2], [0, 0], False, True, None)),
    ("avg_pool2d kernel of 1 value", "avg_pool2d", "kernel_size",
     lambda: ops.avg_pool2d(r(1, 2, 6, 6), [2], [2, 2], [0, 0], False, True, None)),
    ("pow_backward result of the wrong shape", "pow_backward", "result",
     lambda: ops.pow_backward(r(3, 4), r(3, 4), r(4), r(4), [True, True])),
    ("pow_backward exponent does not broadcast", "pow_backward", "exponent",
     lambda: ops.pow_backward(r(3, 4), r(3, 4), r(5), r(3, 4), [True, True])),
    ("mean dtype int64", "mean", "dtype", lambda: ops.mean(r(3), None, False, torch.int64)),
    ("div_scalar complex", "div_scalar", "other", lambda: ops.div_scalar(r(3), 1j)),
]:
    add(f"ops.{name}", op, (arg,) if isinstance(arg, str) else arg, thunk)


# ----------------------------------------------------------------------------- running

def _outcome(thunk):
    try:
        return {"ok": True}, thunk()
    except Exception as e:  # noqa: BLE001 - every exception is an outcome to report
        return {"ok": False, "type": type(e).__name__, "message": str(e)[:2000],
                "python_types": [c.__name__ for c in type(e).__mro__]}, None


def _leaves(value):
    if isinstance(value, torch.Tensor):
        return [value]
    if isinstance(value, (list, tuple)):
        return [t for v in value for t in _leaves(v)]
    return [value]


def _equal(a, b):
    """Same structure, shapes, dtypes and devices; same values (NaN = NaN) off the meta device."""
    la, lb = _leaves(a), _leaves(b)
    if len(la) != len(lb):
        return False
    for x, y in zip(la, lb):
        if isinstance(x, torch.Tensor) != isinstance(y, torch.Tensor):
            return False
        if not isinstance(x, torch.Tensor):
            if x != y:
                return False
            continue
        if x.shape != y.shape or x.dtype != y.dtype or x.device != y.device:
            return False
        if x.device.type != "meta":
            x, y = x.detach(), y.detach()
            if x.is_floating_point() or x.is_complex():
                if not torch.allclose(x, y, rtol=1e-5, atol=1e-6, equal_nan=True):
                    return False
            elif not torch.equal(x, y):
                return False
    return True


def run_case(case):
    ours, ours_value = _outcome(case.ours)
    native, native_value = _outcome(case.native) if case.native is not None else (None, None)
    equal = _equal(ours_value, native_value) if ours["ok"] and native and native["ok"] else None
    return {"name": case.name, "op": case.op, "args": list(case.args), "unsupported": case.unsupported,
            "expect_type": case.expect_type, "ours": ours, "native": native, "equal": equal}


# Address-space cap for the catalogue's process: an absurd size that slips past the checks fails
# to allocate at once instead of taking the machine's memory.
ADDRESS_SPACE_LIMIT = 16 << 30


def main(names=None):
    import faulthandler
    faulthandler.enable()
    with open("/proc/self/statm") as f:
        mapped = int(f.read().split()[0]) * resource.getpagesize()
    if mapped < ADDRESS_SPACE_LIMIT // 2:  # not under AddressSanitizer, which maps terabytes of shadow
        resource.setrlimit(resource.RLIMIT_AS, (ADDRESS_SPACE_LIMIT, ADDRESS_SPACE_LIMIT))
    torch.set_num_threads(1)
    for case in CASES:
        if names and case.name not in names:
            continue
        print(json.dumps({"start": case.name}), flush=True)
        print(json.dumps(run_case(case)), flush=True)
    print(json.dumps({"done": len(CASES)}), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
