"""Table entries: the pointwise activations of torchvision's CNNs (sigmoid, silu, hardtanh, relu6,
hardswish, hardsigmoid, gelu) and the in-place forms torch names (sigmoid_, hardtanh_). The
inplace=True forms of silu, relu6, hardswish and hardsigmoid are tested in tests/test_pointwise.py."""
import torch
import torch.nn.functional as NF

from .. import functional as F
from .. import nn as tnn
from .opinfo import OpInfo, Route, Sample


def _unary(low, high, **kwargs):
    """Uniform values over [low, high) (both sides of every kink of the op), in every layout."""
    def samples(make):
        return [
            Sample((make(3, 4, low=low, high=high),), dict(kwargs), name="2-D"),
            Sample((make(5, 3, layout="transposed", low=low, high=high),), dict(kwargs), name="transposed"),
            Sample((make(4, 7, layout="strided", low=low, high=high),), dict(kwargs), name="strided"),
            Sample((make(2, 3, 4, 5, layout="channels_last", low=low, high=high),), dict(kwargs),
                   name="channels_last"),
            Sample((make(0, 3),), dict(kwargs), name="empty"),
            Sample((make(low=low, high=high),), dict(kwargs), name="0-dim"),
        ]
    return samples


def _gelu_samples(make):
    return _unary(-5, 5)(make) + _unary(-5, 5, approximate="tanh")(make)[:4]


def _hardtanh_samples(make):
    return _unary(-2, 2)(make) + [Sample((make(4, 5, low=-3, high=3), -0.5, 2.5), name="bounds -0.5, 2.5")]


def _determinism(make):
    return [Sample((make(300, 257, low=-6, high=6),))]


def _native_gelu(input, approximate="none"):
    """Native's gelu in float64: its float32 erf is within ~2e-7 absolute, and its float32
    tanh-gelu gradient cancels in 1 - tanh^2 near x = -5 (ours does neither)."""
    return NF.gelu(input.double(), approximate=approximate).to(input.dtype)


def _on_a_copy(fn):
    """An in-place op runs on a non-leaf copy (a leaf that requires grad is refused)."""
    return lambda input, *args, **kwargs: fn(input * 1, *args, **kwargs)


ENTRIES = [
    OpInfo("sigmoid", F.sigmoid, torch.sigmoid, _unary(-6, 6),
           torch_ops=("sigmoid", "sigmoid_backward"),
           routes=(Route(F.sigmoid, (torch.sigmoid, torch.Tensor.sigmoid)),), modules=(tnn.Sigmoid,),
           determinism=_determinism),
    OpInfo("sigmoid_", F.sigmoid_, torch.sigmoid_, _unary(-6, 6),
           torch_ops=("sigmoid_", "sigmoid_backward"),
           routes=(Route(F.sigmoid_, (torch.sigmoid_, torch.Tensor.sigmoid_)),),
           determinism=_determinism, call=_on_a_copy),
    OpInfo("silu", F.silu, NF.silu, _unary(-6, 6), torch_ops=("silu", "silu_backward"),
           routes=(Route(F.silu, (NF.silu,)),), modules=(tnn.SiLU,), determinism=_determinism),
    OpInfo("hardtanh", F.hardtanh, NF.hardtanh, _hardtanh_samples,
           torch_ops=("hardtanh", "hardtanh_backward"),
           routes=(Route(F.hardtanh, (NF.hardtanh,)),), modules=(tnn.Hardtanh, tnn.ReLU6),
           determinism=_determinism),
    OpInfo("hardtanh_", F.hardtanh_, NF.hardtanh_, _hardtanh_samples,
           torch_ops=("hardtanh_", "hardtanh_backward"),
           routes=(Route(F.hardtanh_, (NF.hardtanh_,)),), determinism=_determinism, call=_on_a_copy),
    OpInfo("relu6", F.relu6, NF.relu6, _unary(-2, 8), torch_ops=("hardtanh", "hardtanh_backward"),
           routes=(Route(F.relu6, (NF.relu6,)),), determinism=_determinism),
    OpInfo("hardswish", F.hardswish, NF.hardswish, _unary(-5, 5),
           torch_ops=("hardswish", "hardswish_backward"),
           routes=(Route(F.hardswish, (NF.hardswish,)),), modules=(tnn.Hardswish,),
           determinism=_determinism),
    OpInfo("hardsigmoid", F.hardsigmoid, NF.hardsigmoid, _unary(-5, 5),
           torch_ops=("hardsigmoid", "hardsigmoid_backward"),
           routes=(Route(F.hardsigmoid, (NF.hardsigmoid,)),), modules=(tnn.Hardsigmoid,),
           determinism=_determinism),
    OpInfo("gelu", F.gelu, _native_gelu, _gelu_samples, torch_ops=("gelu", "gelu_backward"),
           routes=(Route(F.gelu, (NF.gelu,)),), modules=(tnn.GELU,), determinism=_determinism),
]
