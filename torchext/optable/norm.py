"""Table entries: batch_norm, batch_norm_relu and layer_norm."""
import torch.nn.functional as NF

from .. import functional as F
from .. import nn as tnn
from .opinfo import OpInfo, Route, Sample


def _stats(make, channels):
    """Running mean and variance: no gradient, the variance positive."""
    return make(channels, grad=False), make(channels, low=0.5, high=2.0, grad=False)


def _samples(make):
    # terms: values per channel (the statistics' sums); the input gradient sums them twice over.
    return [
        Sample((make(3, 4, 3, 2), None, None, make(4), make(4)), {"training": True}, "training, affine",
               terms=18, grad_terms=72),
        Sample((make(3, 4, 3, 2), *_stats(make, 4), make(4), make(4)), {"training": False}, "eval, affine",
               terms=1, grad_terms=18),
        Sample((make(2, 3, 4, 5, layout="channels_last"), *_stats(make, 3)), {"training": True, "momentum": 0.3},
               "channels_last, training, running stats, no affine", terms=40, grad_terms=160),
        Sample((make(5, 3, layout="strided"), None, None, make(3), make(3)), {"training": True, "eps": 1e-3},
               "2-D strided input", terms=5, grad_terms=20),
        Sample((make(4, 2, 7), *_stats(make, 2), None, make(2)), {"training": False}, "3-D, eval, bias only",
               terms=1, grad_terms=28),
    ]


ENTRIES = [
    OpInfo("batch_norm", F.batch_norm, NF.batch_norm, _samples, torch_ops=("batch_norm", "batch_norm_backward"),
           routes=(Route(F.batch_norm, (NF.batch_norm,)),), modules=(tnn.BatchNorm2d, tnn.BatchNorm1d),
           determinism=lambda make: [
               Sample((make(4, 32, 24, 24), make(32, low=0.0, high=0.0, grad=False),
                       make(32, low=1.0, high=1.0, grad=False), make(32), make(32)), {"training": True}, "training"),
               Sample((make(4, 32, 24, 24), make(32, low=0.0, high=0.0, grad=False),
                       make(32, low=2.0, high=2.0, grad=False), make(32), make(32)), {}, "eval")]),
]


def _bn_relu_ref(input, running_mean, running_var, weight=None, bias=None, training=False, momentum=0.1,
                 eps=1e-5, residual=None):
    """Native's unfused ops: batch_norm, then + residual, then relu."""
    out = NF.batch_norm(input, running_mean, running_var, weight, bias, training, momentum, eps)
    return NF.relu(out if residual is None else out + residual)


def _bn_relu_samples(make):
    # A sum within gradcheck's step (1e-6) of relu's kink is improbable at these sizes; the
    # samples are seeded, so a draw that passes keeps passing.
    return [
        Sample((make(3, 4, 3, 2), None, None, make(4), make(4)), {"training": True}, "training, affine",
               terms=18, grad_terms=72),
        Sample((make(3, 4, 3, 2), *_stats(make, 4), make(4), make(4)),
               {"training": True, "residual": make(3, 4, 3, 2)}, "training, residual, running stats",
               terms=18, grad_terms=72),
        Sample((make(3, 4, 3, 2), *_stats(make, 4), make(4), make(4)),
               {"training": False, "residual": make(3, 4, 3, 2)}, "eval, residual", terms=1,
               grad_terms=18),
        Sample((make(2, 3, 4, 5, layout="channels_last"), None, None),
               {"training": True, "residual": make(2, 3, 4, 5, layout="channels_last")},
               "channels_last, no affine, residual", terms=40, grad_terms=160),
        Sample((make(5, 3, layout="strided"), None, None, make(3), make(3)),
               {"training": True, "residual": make(5, 3, layout="strided")}, "2-D strided", terms=5,
               grad_terms=20),
    ]


ENTRIES.append(
    OpInfo("batch_norm_relu", F.batch_norm_relu, _bn_relu_ref, _bn_relu_samples,
           torch_ops=("batch_norm_relu", "batch_norm_relu_backward"),
           determinism=lambda make: [
               Sample((make(4, 32, 24, 24), make(32, low=0.0, high=0.0, grad=False),
                       make(32, low=1.0, high=1.0, grad=False), make(32), make(32)),
                      {"training": True, "residual": make(4, 32, 24, 24)}, "training, residual")]))


def _layer_norm_samples(make):
    # terms: the row length (the statistics' sums); grad_terms: the longer of the row length (input
    # gradient) and the rows (weight and bias gradients).
    return [
        Sample((make(3, 4, 5), [5], make(5), make(5)), {}, "last dim, affine", terms=5, grad_terms=12),
        Sample((make(2, 3, 4, layout="strided"), [3, 4], make(3, 4), None), {"eps": 1e-3},
               "two dims, weight only", terms=12, grad_terms=12),
        Sample((make(2, 5, 4, 3, layout="channels_last"), (3,)), {}, "channels_last (NHWC view), no affine",
               terms=3, grad_terms=40),
        Sample((make(4, 6, layout="transposed"), [6], None, make(6)), {}, "transposed, bias only", terms=6,
               grad_terms=6),
        Sample((make(7,), [7], make(7), make(7)), {}, "1-D, one row", terms=7, grad_terms=7),
        Sample((make(0, 4), [4], make(4), make(4)), {}, "empty"),
    ]


ENTRIES.append(
    OpInfo("layer_norm", F.layer_norm, NF.layer_norm, _layer_norm_samples,
           torch_ops=("layer_norm", "layer_norm_backward"), routes=(Route(F.layer_norm, (NF.layer_norm,)),),
           modules=(tnn.LayerNorm,),
           determinism=lambda make: [Sample((make(64, 33, 96), [96], make(96), make(96)), name="ConvNeXt-like rows")]))
