"""How a Function's backward calls its backward op."""
import torch


def backward_call(function, op):
    """What a backward runs its backward op through: under create_graph (the only time grad mode
    is on inside a backward) the Function, so the graph records it and a second backward reaches
    that Function's own backward (which differentiates it again or raises); otherwise the op
    itself, without a Function's bookkeeping."""
    return function.apply if torch.is_grad_enabled() else op
