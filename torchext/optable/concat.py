"""Table entries: cat, and split/chunk (its inverse: views whose backward is cat)."""
import torch

from .. import functional as F
from .opinfo import OpInfo, Route, Sample

T = torch.Tensor


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


def _split_samples(make):
    return [
        Sample((make(7, 3), 3), name="int, last piece shorter"),
        Sample((make(2, 9, 4, layout="transposed"), [2, 0, 7], 1), name="sizes with a zero, transposed"),
        Sample((make(2, 6, 3, 5, layout="channels_last"), 3, -3), name="channels_last, channels"),
        Sample((make(4, 5, layout="strided"), (4, 1), -1), name="tuple, strided"),
        Sample((make(0, 3), 0), name="size 0 along an empty dim"),
    ]


def _chunk_samples(make):
    return [
        Sample((make(2, 6, 5), 2, 1), name="even"),
        Sample((make(7, 3, layout="transposed"), 3), name="uneven, transposed"),
        Sample((make(6, 4), 4), name="fewer pieces than chunks"),
        Sample((make(2, 6, 3, 5, layout="channels_last"), 2, 1), name="channels_last (ShuffleNet)"),
        Sample((make(3, 0, 2, layout="strided"), 3, 1), name="empty dim"),
    ]


ENTRIES = [
    OpInfo("cat", F.cat, torch.cat, _samples, torch_ops=("cat",),
           routes=(Route(F.cat, (torch.cat, torch.concat)),),
           determinism=lambda make: [Sample((make(8, 32, 28, 28), make(8, 32, 28, 28)), {"dim": 1})],
           call=_tensors_as_list),
    OpInfo("split", F.split, torch.split, _split_samples, torch_ops=("cat",),
           routes=(Route(F.split, (torch.split, T.split)),),
           determinism=lambda make: [Sample((make(8, 64, 28, 28), [16, 48], 1))]),
    OpInfo("chunk", F.chunk, torch.chunk, _chunk_samples, torch_ops=("cat",),
           routes=(Route(F.chunk, (torch.chunk, T.chunk)),),
           determinism=lambda make: [Sample((make(8, 64, 28, 28), 2, 1))]),
]
