"""Table entries: t, transpose, flatten (views where native makes views; no kernel of their own)."""
import torch

from .. import functional as F
from .. import nn as tnn
from .opinfo import OpInfo, Route, Sample

T = torch.Tensor

ENTRIES = [
    OpInfo("t", F.t, torch.t, lambda make: [
        Sample((make(3, 4),), name="2-D"), Sample((make(5),), name="1-D"), Sample((make(),), name="0-dim"),
        Sample((make(4, 6, layout="strided"),), name="strided"), Sample((make(0, 3),), name="empty")],
        torch_ops=(), routes=(Route(F.t, (torch.t, T.t)),),
        determinism=lambda make: [Sample((make(300, 257),))]),
    OpInfo("transpose", F.transpose, torch.transpose, lambda make: [
        Sample((make(2, 3, 4), 0, 2), name="3-D"), Sample((make(3, 4, layout="transposed"), -1, 0), name="transposed"),
        Sample((make(2, 3, 4, 5, layout="channels_last"), 1, 3), name="channels_last"),
        Sample((make(), 0, -1), name="0-dim"), Sample((make(0, 3), 0, 1), name="empty")],
        torch_ops=(), routes=(Route(F.transpose, (torch.transpose, torch.swapaxes, T.transpose, T.swapaxes)),),
        determinism=lambda make: [Sample((make(30, 40, 50), 0, 2))]),
    OpInfo("flatten", F.flatten, torch.flatten, lambda make: [
        Sample((make(2, 3, 4),), name="all"), Sample((make(2, 3, 4, 5), 1, 2), name="middle"),
        Sample((make(3, 4, layout="transposed"),), name="transposed (copies)"),
        Sample((make(2, 3, 4, 5, layout="channels_last"), 1), name="channels_last"),
        Sample((make(),), name="0-dim"), Sample((make(0, 3, 2), 1), name="empty")],
        torch_ops=(), routes=(Route(F.flatten, (torch.flatten, T.flatten)),), modules=(tnn.Flatten,),
        determinism=lambda make: [Sample((make(30, 40, 50).transpose(0, 1), 1))]),
]
