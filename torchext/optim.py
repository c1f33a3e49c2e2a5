"""torchext.optim.SGD: a drop-in for torch.optim.SGD whose step is one fused torchext kernel call
per bucket of parameters (same dtype, same device, same momentum-buffer state).

It takes torch.optim.SGD's arguments, validates them with the same errors, keeps the same
param_groups keys and the same per-parameter state ('momentum_buffer'), so state_dicts load
into either optimizer. Its results equal torch.optim.SGD(foreach=False) bit for bit.
`foreach` and `fused` are accepted and recorded (so state_dicts interchange) but select nothing:
the step is always the fused torchext kernel. `differentiable=True` is not supported.

step_in_backward=True applies each parameter's update inside backward, as soon as its gradient
has been accumulated (a post-accumulate-grad hook), while that gradient is still in cache; step()
then updates only the parameters backward did not reach. The values are those of the usual loop
(zero_grad, one backward, step) bit for bit, and p.grad is kept. It suits that loop only: a
second backward before step() (gradient accumulation) raises, and whatever is done to the
gradients between backward and step() (clipping, unscaling) comes too late to count.
"""
import weakref

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
                 maximize=False, foreach=None, differentiable=False, fused=None,
                 step_in_backward=False):
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
        self._step_in_backward = bool(step_in_backward)
        super().__init__(params, defaults)

    def add_param_group(self, param_group):
        super().add_param_group(param_group)
        if self._step_in_backward:
            self._hook_group(self.param_groups[-1])

    def _hook_group(self, group):
        """Hooks the group's params. A hook holds the group itself (so lr schedules reach it) and
        the optimizer weakly: once the optimizer is gone its hooks do nothing."""
        self.__dict__.setdefault("_stepped", set())
        optimizer = weakref.ref(self)

        def hook(p):
            if optimizer() is not None:
                optimizer()._step_in_hook(p, group)

        for p in group["params"]:
            p.register_post_accumulate_grad_hook(hook)

    @torch.no_grad()
    def _step_in_hook(self, p, group):
        if id(p) in self._stepped:
            raise RuntimeError(
                "torchext.optim.SGD(step_in_backward=True): a second backward reached a parameter "
                "before step(); accumulating gradients over several backward calls needs "
                "step_in_backward=False")
        self._stepped.add(id(p))
        self._step_params(group, [p])

    def __getstate__(self):
        state = super().__getstate__()
        state["_step_in_backward"] = self.__dict__.get("_step_in_backward", False)
        return state

    def __setstate__(self, state):
        super().__setstate__(state)
        self.__dict__.setdefault("_step_in_backward", False)
        if self._step_in_backward:  # a copy hooks its own params
            self._stepped = set()
            for group in self.param_groups:
                self._hook_group(group)
        for group in self.param_groups:
            group.setdefault("nesterov", False)
            group.setdefault("maximize", False)
            group.setdefault("foreach", None)
            group.setdefault("differentiable", False)
            group.setdefault("fused", False)

    def _buckets(self, group, params):
        """Params with a grad, grouped by (dtype, device, whether a momentum buffer exists yet);
        fresh buffers are created here (the kernel fills them with the first step's grad)."""
        buckets = {}
        use_momentum = group["momentum"] != 0
        for p in params:
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
            members, grads, bufs = buckets.setdefault((p.dtype, p.device, fresh), ([], [], []))
            members.append(p)
            grads.append(p.grad)
            if use_momentum:
                bufs.append(buf)
        return buckets

    @torch.no_grad()
    def _step_params(self, group, params):
        lr = _as_float(group["lr"])
        momentum = float(group["momentum"])
        dampening = float(group["dampening"])
        weight_decay = _as_float(group["weight_decay"])
        for (_, _, fresh), (params, grads, bufs) in self._buckets(group, params).items():
            ops.sgd_step_(params, grads, bufs, lr, momentum, dampening, weight_decay,
                          bool(group["nesterov"]), bool(group["maximize"]), fresh)

    def step(self, closure=None):
        """Performs one optimization step; `closure` re-evaluates the model and returns the loss."""
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        stepped = self.__dict__.get("_stepped", ())
        for group in self.param_groups:
            self._step_params(group, [p for p in group["params"] if id(p) not in stepped])
        if stepped:
            stepped.clear()
        return loss
