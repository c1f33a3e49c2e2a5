"""torchext.optim.SGD: a drop-in for torch.optim.SGD whose step is one fused torchext kernel call
per bucket of parameters (same dtype, same device, same momentum-buffer state).

It takes torch.optim.SGD's arguments, validates them with the same errors, keeps the same
param_groups keys and the same per-parameter state ('momentum_buffer'), so state_dicts load
into either optimizer. Its results equal torch.optim.SGD(foreach=False) bit for bit.
`foreach` and `fused` are accepted and recorded (so state_dicts interchange) but select nothing:
the step is always the fused torchext kernel. `differentiable=True` is not supported.
"""
import torch
from torch.optim import Optimizer

from ._library import ops
from .functions import sgd as _sgd_fake  # noqa: F401  (registers the op's fake kernel)

__all__ = ["SGD"]


def _as_float(x):
    return x.item() if isinstance(x, torch.Tensor) else float(x)


class SGD(Optimizer):
    """Stochastic gradient descent (optionally with momentum, dampening, weight decay, nesterov,
    maximize), computed by torch.ops.torchext.sgd_step_. See torch.optim.SGD for the math."""

    def __init__(self, params, lr=1e-3, momentum=0, dampening=0, weight_decay=0, nesterov=False, *,
                 maximize=False, foreach=None, differentiable=False, fused=None):
        if isinstance(lr, torch.Tensor) and lr.numel() != 1:
            raise ValueError("Tensor lr must be 1-element")
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        if differentiable:
            raise RuntimeError("torchext.optim.SGD: differentiable=True is not supported "
                               "(the fused step is not differentiable); use torch.optim.SGD")
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening, weight_decay=weight_decay,
                        nesterov=nesterov, maximize=maximize, foreach=foreach,
                        differentiable=differentiable, fused=fused)
        super().__init__(params, defaults)

    def __setstate__(self, state):
        super().__setstate__(state)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("differentiable", False)
            group.setdefault("fused", False)

    def _buckets(self, group):
        """Params with a grad, grouped by (dtype, device, whether a momentum buffer exists yet);
        fresh buffers are created here (the kernel fills them with the first step's grad)."""
        buckets = {}
        use_momentum = group["momentum"] != 0
        for p in group["params"]:
            if p.grad is None:
                continue
            if p.grad.is_sparse:
                raise RuntimeError("torchext.optim.SGD does not support sparse gradients")
            buf = None
            fresh = False
            if use_momentum:
                state = self.state[p]
                buf = state.get("momentum_buffer")
                if buf is None:
                    buf = torch.empty_like(p, memory_format=torch.preserve_format)
                    state["momentum_buffer"] = buf
                    fresh = True
            params, grads, bufs = buckets.setdefault((p.dtype, p.device, fresh), ([], [], []))
            params.append(p)
            grads.append(p.grad)
            if use_momentum:
                bufs.append(buf)
        return buckets

    @torch.no_grad()
    def _step_group(self, group):
        lr = _as_float(group["lr"])
        momentum = float(group["momentum"])
        dampening = float(group["dampening"])
        weight_decay = _as_float(group["weight_decay"])
        for (_, _, fresh), (params, grads, bufs) in self._buckets(group).items():
            ops.sgd_step_(params, grads, bufs, lr, momentum, dampening, weight_decay,
                          bool(group["nesterov"]), bool(group["maximize"]), fresh)

    def step(self, closure=None):
        """Performs one optimization step; `closure` re-evaluates the model and returns the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._step_group(group)
        return loss
