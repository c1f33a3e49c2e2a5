"""Table entries: conv2d."""
import torch
import torch.nn.functional as NF

from .. import functional as F
from .. import nn as tnn
from .opinfo import OpInfo, Route, Sample


def _samples(make):
    # terms: input channels per group x kernel; grad_terms: the weight gradient's sum over the
    # batch and every output position.
    return [
        Sample((make(2, 4, 3, 3), make(2, 2, 3, 3), make(2)), {"stride": 2, "padding": 1, "groups": 2},
               "stride 2, padding, groups, bias", terms=18, grad_terms=8),
        Sample((make(1, 2, 7, 6), make(3, 2, 2, 3)), {"padding": "same", "dilation": 2},
               "dilation, 'same'", terms=12, grad_terms=42),
        Sample((make(1, 3, 5, 4, layout="channels_last"), make(2, 3, 3, 3, layout="channels_last"), make(2)),
               {"padding": (1, 0)}, "channels_last", terms=27, grad_terms=24),
        Sample((make(3, 5, 5, layout="strided"), make(2, 3, 1, 1)), {"stride": (2, 1)}, "unbatched, strided, 1x1",
               terms=3, grad_terms=15),
        Sample((make(0, 2, 4, 4), make(3, 2, 3, 3), make(3)), {}, "empty batch"),
        # Depthwise (groups == channels: the direct depthwise kernels).
        Sample((make(2, 5, 9, 11), make(5, 1, 3, 3), make(5)), {"padding": 1, "groups": 5},
               "depthwise 3x3, odd sizes, bias", terms=9, grad_terms=2 * 9 * 11),
        Sample((make(1, 4, 10, 13, layout="channels_last"), make(8, 1, 3, 3)), {"stride": 2, "padding": 1, "groups": 4},
               "depthwise stride 2, channels_last, multiplier 2", terms=9, grad_terms=5 * 7),
        Sample((make(2, 3, 12, 9), make(3, 1, 7, 7), make(3)), {"padding": 3, "groups": 3},
               "depthwise 7x7, padding 3", terms=49, grad_terms=2 * 12 * 9),
        Sample((make(1, 2, 11, 10, layout="strided"), make(4, 1, 5, 5)),
               {"stride": (2, 1), "padding": 2, "dilation": (1, 2), "groups": 2},
               "depthwise 5x5, strided input, dilation, multiplier 2", terms=25, grad_terms=6 * 6),
    ]


ENTRIES = [
    OpInfo("conv2d", F.conv2d, NF.conv2d, _samples, torch_ops=("conv2d", "conv2d_backward"),
           routes=(Route(F.conv2d, (torch.conv2d, NF.conv2d)),), modules=(tnn.Conv2d,),
           determinism=lambda make: [
               Sample((make(4, 16, 24, 24), make(32, 16, 3, 3), make(32)), {"padding": 1}, "padding",
                      split_sum=4 * 24 * 24),
               Sample((make(4, 16, 25, 25), make(32, 8, 3, 3)), {"stride": 2, "groups": 2}, "strided groups",
                      split_sum=4 * 12 * 12),
               # The depthwise kernels split by plane and channel only: bitwise equal on any thread count.
               Sample((make(4, 32, 28, 28), make(32, 1, 3, 3), make(32)), {"padding": 1, "groups": 32},
                      "depthwise"),
               Sample((make(3, 24, 31, 30), make(48, 1, 5, 5)), {"stride": 2, "padding": 2, "groups": 24},
                      "depthwise strided, multiplier 2")]),
]
