"""Table entries: sum and mean."""
import torch

from .. import functional as F
from .opinfo import OpInfo, Route, Sample


def _samples(make):
    return [
        Sample((make(3, 4),), name="all", terms=12),
        Sample((make(2, 3, 4), (0, 2), True), name="dims, keepdim", terms=8),
        Sample((make(5, 3, layout="transposed"), 1), name="transposed, last dim", terms=3),
        Sample((make(3, 5, 2, layout="strided"), [-1, 0]), name="strided, negative dim", terms=6),
        Sample((make(2, 3, 4, 5, layout="channels_last"), [1]), name="channels_last, channels", terms=3),
        Sample((make(4, 6), [], True), name="empty dim list", terms=24),
        Sample((make(0, 4), 0), name="empty"),
        Sample((make(),), name="0-dim"),
        Sample((make(3, 5),), {"dtype": torch.float64}, name="dtype float64", terms=15),
    ]


def _mean_samples(make):
    return [
        Sample((make(3, 4),), name="all", terms=12),
        Sample((make(2, 3, 4, 5, layout="channels_last"), (2, 3)), name="channels_last, spatial (SE block)",
               terms=20),
        Sample((make(2, 3, 4), (0, 2), True), name="dims, keepdim", terms=8),
        Sample((make(5, 3, layout="transposed"), -1), name="transposed, last dim", terms=3),
        Sample((make(3, 5, 2, layout="strided"), [-1, 0]), name="strided, negative dim", terms=6),
        Sample((make(0, 4), 1), name="empty"),
        Sample((make(),), name="0-dim"),
        Sample((make(3, 5),), {"dtype": torch.float64}, name="dtype float64", terms=15),
    ]


ENTRIES = [
    OpInfo("sum", F.sum, torch.sum, _samples, torch_ops=("sum",),
           routes=(Route(F.sum, (torch.sum, torch.Tensor.sum)),),
           determinism=lambda make: [Sample((make(513, 300), [0]), name="dim 0", split_sum=513),
                                     Sample((make(513, 300),), name="all", split_sum=513 * 300)]),
    OpInfo("mean", F.mean, torch.mean, _mean_samples, torch_ops=("mean", "div_scalar"),
           routes=(Route(F.mean, (torch.mean, torch.Tensor.mean)),),
           determinism=lambda make: [Sample((make(8, 64, 14, 14), (2, 3)), name="spatial"),
                                     Sample((make(513, 300),), name="all", split_sum=513 * 300)]),
]
