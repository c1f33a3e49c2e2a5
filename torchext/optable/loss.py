"""Table entries: binary_cross_entropy_with_logits."""
import torch.nn.functional as NF

from .. import functional as F
from .opinfo import OpInfo, Route, Sample


def _samples(make):
    """Targets are probabilities; weight and pos_weight positive, without gradient (as native)."""
    def target(*shape, **kw):
        return make(*shape, low=0.0, high=1.0, **kw)

    def positive(*shape):
        return make(*shape, low=0.5, high=2.0, grad=False)
    return [
        Sample((make(4, 3), target(4, 3), positive(3)), {"pos_weight": positive(3)}, "weight, pos_weight, mean",
               terms=12),
        Sample((make(5, 3, layout="transposed"), target(5, 3, layout="transposed")), {"reduction": "none"},
               "transposed, none"),
        Sample((make(2, 3, 4, 5, layout="channels_last"), target(2, 3, 4, 5, grad=False)),
               {"reduction": "sum", "pos_weight": positive(5)}, "channels_last, sum", terms=120),
        Sample((make(4, 6, layout="strided"), target(4, 6)), {"weight": positive(1, 6)}, "strided, mean", terms=24),
        Sample((make(0, 3), target(0, 3)), {"reduction": "sum"}, "empty"),
        Sample((make(), target()), {}, "0-dim"),
    ]


ENTRIES = [
    OpInfo("binary_cross_entropy_with_logits", F.binary_cross_entropy_with_logits,
           NF.binary_cross_entropy_with_logits, _samples,
           torch_ops=("binary_cross_entropy_with_logits", "binary_cross_entropy_with_logits_backward"),
           routes=(Route(F.binary_cross_entropy_with_logits, (NF.binary_cross_entropy_with_logits,)),),
           determinism=lambda make: [Sample((make(300, 257), make(300, 257, low=0.0, high=1.0)),
                                            {"pos_weight": make(257, low=2.0, high=2.0, grad=False)})]),
]
