"""Table entries: max_pool2d, avg_pool2d and adaptive_avg_pool2d."""
import torch.nn.functional as NF

from .. import functional as F
from .. import nn as tnn
from . import adapters
from .opinfo import OpInfo, Route, Sample


def _max_pool(make):
    return [
        Sample((make(2, 3, 7, 6), 3, 2, 1), name="3, 2, 1"),
        Sample((make(1, 2, 7, 8), 2, 2, 0), {"dilation": 2, "ceil_mode": True}, "dilation, ceil_mode"),
        Sample((make(2, 3, 6, 5, layout="channels_last"), (2, 3)), {"return_indices": True},
               "channels_last, indices"),
        Sample((make(3, 7, 6, layout="strided"), 2), {"stride": (1, 2)}, "unbatched, strided"),
        Sample((make(0, 2, 4, 4), 2), name="empty batch"),
    ]


def _avg_pool(make):
    # terms: the kernel's area (or the divisor's share of it).
    return [
        Sample((make(2, 3, 7, 6), 3, 2, 1), name="3, 2, 1", terms=9),
        Sample((make(1, 2, 7, 8), 2, 2, 1), {"ceil_mode": True, "count_include_pad": False},
               "ceil_mode, exclude padding", terms=4),
        Sample((make(2, 3, 6, 5, layout="channels_last"), (2, 3)), {"divisor_override": 5},
               "channels_last, divisor_override", terms=6),
        Sample((make(3, 7, 6, layout="strided"), 3), {"stride": (1, 2), "padding": (1, 0)},
               "unbatched, strided", terms=9),
        Sample((make(1, 2, 5, 5, layout="transposed"), 3, 1, 1), {"ceil_mode": True}, "transposed, 3x3/1", terms=9),
        Sample((make(0, 2, 4, 4), 2), name="empty batch"),
    ]


def _adaptive(make):
    # terms: the largest window (the input, for the smallest output).
    return [
        Sample((make(2, 3, 7, 5), (3, 2)), name="3 x 2", terms=12),
        Sample((make(2, 3, 5, 7), 1), name="global", terms=35),
        Sample((make(3, 6, 4, layout="transposed"), (4, 1)), name="unbatched, transposed", terms=8),
        Sample((make(2, 3, 4, 5, layout="channels_last"), (5, 7)), name="channels_last, larger output", terms=4),
        Sample((make(1, 2, 6, 6, layout="strided"), (None, 4)), name="strided, None", terms=12),
        Sample((make(0, 2, 3, 4), (1, 2)), name="empty batch"),
    ]


ENTRIES = [
    OpInfo("max_pool2d", F.max_pool2d, NF.max_pool2d, _max_pool, torch_ops=("max_pool2d", "max_pool2d_backward"),
           # F.max_pool2d reaches the mode as itself (torch's boolean dispatch on return_indices).
           routes=(Route(F.max_pool2d, (NF.max_pool2d,)), Route(adapters.max_pool2d, (NF._max_pool2d,)),
                   Route(adapters.max_pool2d_with_indices, (NF.max_pool2d_with_indices,))),
           modules=(tnn.MaxPool2d,),
           determinism=lambda make: [Sample((make(4, 32, 24, 24), 3, 2, 1))]),
    OpInfo("avg_pool2d", F.avg_pool2d, NF.avg_pool2d, _avg_pool, torch_ops=("avg_pool2d", "avg_pool2d_backward"),
           routes=(Route(F.avg_pool2d, (NF.avg_pool2d,)),), modules=(tnn.AvgPool2d,),
           determinism=lambda make: [Sample((make(4, 32, 24, 24), 3, 1, 1)), Sample((make(4, 32, 24, 24), 2))]),
    OpInfo("adaptive_avg_pool2d", F.adaptive_avg_pool2d, NF.adaptive_avg_pool2d, _adaptive,
           torch_ops=("adaptive_avg_pool2d", "adaptive_avg_pool2d_backward"),
           routes=(Route(F.adaptive_avg_pool2d, (NF.adaptive_avg_pool2d,)),), modules=(tnn.AdaptiveAvgPool2d,),
           determinism=lambda make: [Sample((make(4, 32, 24, 24), (5, 7)))]),
]
