"""Table entries: softmax, log_softmax and the fused scaled_dot_product_attention."""
import torch
import torch.nn.functional as NF

from .. import functional as F
from .. import nn as tnn
from .adapters import attention_without_dropout, softmax_method
from .opinfo import OpInfo, Route, Sample


def _softmax_samples(make):
    # terms: the reduced length (the denominator's sum; the gradient's sum of dy * y).
    return [
        Sample((make(3, 5), 1), name="rows", terms=5, grad_terms=5),
        Sample((make(4, 6, 5), 1), name="middle dim (columns)", terms=6, grad_terms=6),
        Sample((make(2, 3, 4, 5, layout="channels_last"), 1), name="channels_last, dim 1", terms=3, grad_terms=3),
        Sample((make(5, 7, layout="transposed"), -1), name="transposed, last dim", terms=7, grad_terms=7),
        Sample((make(6, 4, layout="strided"), 0), name="strided, dim 0", terms=6, grad_terms=6),
        Sample((make(2, 300), 1), name="long rows (vector body and tail)", terms=300, grad_terms=300),
        Sample((make(), 0), name="0-dim"),
        Sample((make(0, 3), 1), name="empty"),
    ]


def _softmax_determinism(make):
    return [Sample((make(96, 197), -1), name="ViT scores"), Sample((make(8, 50, 300), 1), name="columns")]


def _mask(make, *shape, masked_row=None):
    """A bool mask (about 70% True), with row masked_row all False."""
    mask = make(*shape, grad=False) > -0.5
    if masked_row is not None:
        mask[..., masked_row, :] = False
    return mask


def _attention_samples(make):
    # terms: the longest sum an output or gradient entry adds (E for the scores, S for the output,
    # L times the GQA group for dk/dv).
    return [
        Sample((make(2, 3, 5, 4), make(2, 3, 7, 4), make(2, 3, 7, 6)), name="L != S", terms=7, grad_terms=7),
        Sample((make(2, 3, 5, 4), make(2, 3, 7, 4), make(2, 3, 7, 6)), {"attn_mask": _mask(make, 5, 7, masked_row=1)},
               name="bool mask, a fully masked row", terms=7, grad_terms=7),
        Sample((make(2, 3, 5, 4), make(2, 3, 7, 4), make(2, 3, 7, 6)), {"attn_mask": make(1, 3, 5, 7)},
               name="additive mask broadcast over the batch (its gradient summed)", terms=7, grad_terms=14),
        Sample((make(1, 2, 6, 4), make(1, 2, 6, 4), make(1, 2, 6, 4)), {"is_causal": True}, name="causal",
               terms=6, grad_terms=6),
        Sample((make(1, 2, 5, 3), make(1, 2, 8, 3), make(1, 2, 8, 5)), {"is_causal": True, "scale": 0.3},
               name="causal, L < S, scale", terms=8, grad_terms=8),
        Sample((make(1, 4, 3, 4), make(1, 2, 5, 4), make(1, 2, 5, 4)), {"enable_gqa": True}, name="GQA",
               terms=5, grad_terms=10),
        Sample((make(2, 3, 5, 4, layout="transposed"), make(1, 3, 7, 4), make(1, 3, 7, 6, layout="strided")),
               name="transposed/strided, key and value broadcast over the batch", terms=7, grad_terms=14),
        Sample((make(5, 4), make(7, 4), make(7, 6)), name="2-D", terms=7, grad_terms=7),
        Sample((make(2, 0, 4), make(2, 7, 4), make(2, 7, 6)), name="empty query"),
    ]


def _attention_determinism(make):
    return [
        Sample((make(2, 4, 100, 32), make(2, 4, 300, 32), make(2, 4, 300, 32)), name="two key blocks"),
        Sample((make(1, 4, 70, 16), make(1, 2, 70, 16), make(1, 2, 70, 16)),
               {"is_causal": True, "enable_gqa": True}, name="causal GQA"),
    ]


ENTRIES = [
    OpInfo("softmax", F.softmax, NF.softmax, _softmax_samples, torch_ops=("softmax", "softmax_backward"),
           routes=(Route(F.softmax, (NF.softmax,)), Route(softmax_method(F.softmax), (torch.softmax, torch.Tensor.softmax))),
           modules=(tnn.Softmax,), gradgrad=False, determinism=_softmax_determinism),
    OpInfo("log_softmax", F.log_softmax, NF.log_softmax, _softmax_samples,
           torch_ops=("log_softmax", "log_softmax_backward"),
           routes=(Route(F.log_softmax, (NF.log_softmax,)),
                   Route(softmax_method(F.log_softmax), (torch.log_softmax, torch.Tensor.log_softmax))),
           modules=(tnn.LogSoftmax,), gradgrad=False, determinism=_softmax_determinism),
    OpInfo("scaled_dot_product_attention", F.scaled_dot_product_attention, NF.scaled_dot_product_attention,
           _attention_samples,
           # sum: a broadcast additive mask's gradient, summed to the mask's shape
           torch_ops=("scaled_dot_product_attention", "scaled_dot_product_attention_backward", "sum"),
           routes=(Route(attention_without_dropout, (NF.scaled_dot_product_attention,), bool_tensors=True),),
           gradgrad=False, determinism=_attention_determinism),
]
