"""The base of every torchext autograd Function: torch.func-ready (forward without ctx plus
setup_context, so vmap, grad, jacrev, vjp and functional_call transform it), with vmap generated
from the forward and backward (which then call the ops with batched tensors: functions/batching.py
gives each op its batching rule). No Function has a jvp: Dynamo refuses to trace a Function that
defines one (even one that only raises), and torch.compile of patched models comes first, so
forward-mode AD (torch.func.jvp, jacfwd, torch.autograd.forward_ad) raises autograd.Function's
"You must implement the jvp function" error."""
import torch

from . import batching  # noqa: F401  (registers every op's vmap rule)


class Function(torch.autograd.Function):
    generate_vmap_rule = True


class InplaceFunction(Function):
    """A Function that writes into its input (mark_dirty), which vmap's generated rule cannot
    follow: its vmap runs the Function itself on the unwrapped tensors (the write lands in the
    batched input's storage) and returns the input, batched as it was."""
    generate_vmap_rule = False
    dirty = 0  # the position of the argument written (and returned)

    @classmethod
    def vmap(cls, info, in_dims, *args):
        return cls.apply(*args), in_dims[cls.dirty]

