"""The fused SGD step's fake (meta) kernel; the op mutates its lists in place and returns None."""
import torch

from .arguments import same_device


@torch.library.register_fake("torchext::sgd_step_")
def _sgd_step__fake(params, grads, momentum_buffers, lr, momentum, dampening, weight_decay,
                    nesterov, maximize, first_step):
    torch._check(len(grads) == len(params),
                 lambda: "torchext.sgd_step_: expected as many grads as params")
    named = (("params", params), ("grads", grads), ("momentum_buffers", momentum_buffers))
    same_device("sgd_step_", [(f"{name}[{i}]", t) for name, ts in named for i, t in enumerate(ts)])
    for p, g in zip(params, grads):
        torch._check(p.shape == g.shape,
                     lambda: "torchext.sgd_step_: expected each grad of its param's shape")
    return None
