"""Table entries: relu, relu_ and the fused residual add_relu."""
import torch
import torch.nn.functional as NF

from .. import functional as F
from .. import nn as tnn
from .adapters import relu_inplace
from .opinfo import OpInfo, Route, Sample


def _unary(make):
    """Values kept 0.2 away from the kink, where finite differences would straddle it."""
    return [
        Sample((make(3, 4, away=0.2),), name="2-D"),
        Sample((make(5, 3, layout="transposed", away=0.2),), name="transposed"),
        Sample((make(4, 7, layout="strided", away=0.2),), name="strided"),
        Sample((make(2, 3, 4, 5, layout="channels_last", away=0.2),), name="channels_last"),
        Sample((make(0, 3),), name="empty"),
        Sample((make(away=0.2),), name="0-dim"),
    ]


def _pairs(make):
    return [
        Sample((make(2, 3, 4, away=0.2), make(2, 3, 4, away=0.2)), name="3-D"),
        Sample((make(2, 3, 4, 5, layout="channels_last", away=0.2),
                make(2, 3, 4, 5, layout="channels_last", away=0.2)), name="channels_last"),
        Sample((make(5, 7, layout="strided", away=0.2), make(5, 7, away=0.2)), name="strided"),
        Sample((make(5, away=0.2), make(5, grad=False)), name="one side needs grad"),
    ]


def _native_add_relu(input, other):
    return torch.relu(input + other)


def _on_a_copy(fn):
    """An in-place op runs on a non-leaf copy (a leaf that requires grad is refused)."""
    return lambda input: fn(input * 1)


ENTRIES = [
    OpInfo("relu", F.relu, torch.relu, _unary, torch_ops=("relu", "relu_backward"),
           routes=(Route(F.relu, (torch.relu, torch.Tensor.relu, NF.relu)),), modules=(tnn.ReLU,),
           determinism=lambda make: [Sample((make(300, 257),))]),
    OpInfo("relu_", F.relu_, torch.relu_, _unary, torch_ops=("relu_", "relu_backward"),
           routes=(Route(relu_inplace, (torch.relu_, torch.Tensor.relu_, NF.relu_)),),
           determinism=lambda make: [Sample((make(300, 257),))], call=_on_a_copy),
    OpInfo("add_relu", F.add_relu, _native_add_relu, _pairs, torch_ops=("add_relu", "relu_backward"),
           determinism=lambda make: [Sample((make(300, 257), make(300, 257)))]),
]
