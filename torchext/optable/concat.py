"""Table entries: cat."""
import torch

from .. import functional as F
from .opinfo import OpInfo, Route, Sample


def _samples(make):
    # Sample args are the tensors; call() passes them as cat's list.
    return [
        Sample((make(2, 3), make(4, 3), make(1, 3)), {"dim": 0}, "dim 0, three tensors"),
        Sample((make(2, 3, 4, layout="strided"), make(2, 1, 4, layout="transposed")), {"dim": -2},
               "negative dim, strided and transposed"),
        Sample((make(2, 3, 4, 5, layout="channels_last"), make(2, 2, 4, 5, layout="channels_last")), {"dim": 1},
               "channels_last, channels"),
        Sample((make(2, 3, 4, 5, layout="channels_last"), make(2, 3, 4, 2)), {"dim": 3}, "mixed layouts, last dim"),
        Sample((make(3, 2), make(0), make(3, 5, grad=False)), {"dim": 1}, "legacy empty, one without grad"),
        Sample((make(0, 4), make(2, 4)), {"dim": 0}, "an empty input"),
    ]


def _tensors_as_list(fn):
    return lambda *tensors, dim=0: fn(list(tensors), dim)


ENTRIES = [
    OpInfo("cat", F.cat, torch.cat, _samples, torch_ops=("cat",),
           routes=(Route(F.cat, (torch.cat, torch.concat)),),
           determinism=lambda make: [Sample((make(8, 32, 28, 28), make(8, 32, 28, 28)), {"dim": 1})],
           call=_tensors_as_list),
]
