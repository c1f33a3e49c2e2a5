"""Table entries: dropout and torchvision's stochastic_depth. Both draw from the default generator:
the tests call them (and native) right after the same torch.manual_seed."""
import torch
import torch.nn.functional as NF
import torchvision

from .. import functional as F
from .. import nn as tnn
from .opinfo import OpInfo, Route, Sample


def _seeded(fn):
    """fn after torch.manual_seed(0), the generators restored afterwards: ours and native draw the
    same mask, and gradcheck's repeated calls see one mask. In place, fn runs on a non-leaf copy
    (a leaf that requires grad is refused)."""
    def call(input, *args, **kwargs):
        with torch.random.fork_rng():
            torch.manual_seed(0)
            return fn(input * 1 if kwargs.get("inplace") else input, *args, **kwargs)
    return call


def _on_cuda_with_our_noise(native, ours):
    """The reference: native itself on the CPU (the same mask, bit for bit). CUDA's native draw
    (Philox) is not reproduced: there the noise is ours (our op on ones, same seed) and the
    multiply native's."""
    def ref(input, *args, **kwargs):
        if input.device.type == "cpu":
            return native(input, *args, **kwargs)
        with torch.no_grad():
            noise = _seeded(ours)(torch.ones_like(input), *args, **kwargs)
        return input * noise
    return ref


def _dropout_samples(make):
    return [
        Sample((make(20, 30), 0.5), name="p=0.5"),
        Sample((make(9, 11, layout="transposed"), 0.2), name="transposed, p=0.2"),
        Sample((make(2, 3, 4, 5, layout="channels_last"), 0.7), name="channels_last, p=0.7"),
        Sample((make(6, 5, layout="strided"), 0.35), name="strided, p=0.35"),
        Sample((make(4, 3), 1.0), name="p=1"),
        Sample((make(4, 3), 0.0), name="p=0"),
        Sample((make(4, 3), 0.5), {"training": False}, "eval"),
        Sample((make(0, 3), 0.5), name="empty"),
        Sample((make(5, 4, layout="transposed"), 0.4), {"inplace": True}, "in place, on a copy"),
    ]


def _stochastic_depth_samples(make):
    return [
        Sample((make(6, 3, 4, 4), 0.5, "row"), name="row"),
        Sample((make(5, 3, 4, 2, layout="channels_last"), 0.3, "row"), name="channels_last, row"),
        Sample((make(7, 6, layout="transposed"), 0.4, "row"), name="transposed, row"),
        Sample((make(3, 5, layout="strided"), 0.25, "batch"), name="strided, batch"),
        Sample((make(4, 3), 1.0, "row"), name="p=1"),
        Sample((make(4, 3), 0.5, "row"), {"training": False}, "eval"),
    ]


ENTRIES = [
    OpInfo("dropout", F.dropout, _on_cuda_with_our_noise(NF.dropout, F.dropout), _dropout_samples,
           torch_ops=("dropout", "dropout_backward", "dropout_"), routes=(Route(F.dropout, (NF.dropout,)),),
           modules=(tnn.Dropout,), call=_seeded,
           determinism=lambda make: [Sample((make(300, 257), 0.5))]),
    OpInfo("stochastic_depth", F.stochastic_depth,
           _on_cuda_with_our_noise(torchvision.ops.stochastic_depth, F.stochastic_depth),
           _stochastic_depth_samples, torch_ops=("stochastic_depth", "dropout_backward"),
           modules=(tnn.StochasticDepth,), call=_seeded,
           determinism=lambda make: [Sample((make(64, 40, 33), 0.5, "row"))]),
]
