"""Table entries: matmul and linear."""
import torch
import torch.nn.functional as NF

from .. import functional as F
from .. import nn as tnn
from .adapters import reflected
from .opinfo import OpInfo, Route, Sample

T = torch.Tensor


def _matmul(make):
    return [
        Sample((make(3, 4), make(4, 5)), name="2-D @ 2-D", terms=4, grad_terms=5),
        Sample((make(5), make(5, 3)), name="1-D @ 2-D", terms=5, grad_terms=3),
        Sample((make(4), make(4)), name="1-D @ 1-D", terms=4),
        Sample((make(2, 1, 3, 4), make(3, 4, 2)), name="batched broadcast", terms=4, grad_terms=6),
        Sample((make(3), make(2, 3, 4)), name="1-D @ 3-D", terms=3, grad_terms=8),
        Sample((make(2, 3, 4, layout="transposed"), make(4)), name="transposed @ 1-D", terms=4, grad_terms=6),
        Sample((make(5, 3, layout="strided"), make(3, 7, layout="transposed")), name="strided @ transposed",
               terms=3, grad_terms=7),
        Sample((make(0, 3), make(3, 2)), name="empty"),
    ]


def _linear(make):
    return [
        Sample((make(2, 3, 5), make(4, 5), make(4)), name="3-D input, bias", terms=5, grad_terms=6),
        Sample((make(3, 4, layout="transposed"), make(5, 4)), name="transposed input, no bias", terms=4,
               grad_terms=5),
        Sample((make(4), make(3, 4, layout="strided"), make(3)), name="1-D input", terms=4, grad_terms=3),
        Sample((make(3, 4), make(4)), name="1-D weight", terms=4, grad_terms=3),
        Sample((make(0, 4), make(3, 4), make(3)), name="empty batch"),
    ]


ENTRIES = [
    OpInfo("matmul", F.matmul, torch.matmul, _matmul, torch_ops=("matmul",),
           routes=(Route(F.matmul, (torch.matmul, T.matmul, T.__matmul__)),
                   Route(reflected(F.matmul), (T.__rmatmul__,))),
           determinism=lambda make: [Sample((make(3, 96, 128), make(128, 80)), split_sum=3 * 96)]),
    OpInfo("linear", F.linear, NF.linear, _linear, torch_ops=("linear", "linear_backward"),
           routes=(Route(F.linear, (NF.linear,)),), modules=(tnn.Linear,),
           determinism=lambda make: [Sample((make(64, 256), make(128, 256), make(128)), split_sum=256)]),
]
