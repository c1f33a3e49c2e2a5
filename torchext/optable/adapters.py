"""Adapters between a torch callable's signature and a torchext.functional one, for the routes
of torchext.enable(). An adapter returning NotImplemented leaves the call to native."""
import numbers

import torch

from .. import functional as F


def in_place(fn):
    """An in-place form: compute out of place on our kernels, then write into self (autograd
    records the write as native in-place semantics demand, e.g. refusing leaves that need grad)."""
    def run(self, *args, **kwargs):
        result = fn(self, *args, **kwargs)
        if result.shape != self.shape:
            raise RuntimeError(
                f"output with shape {list(self.shape)} doesn't match the broadcast shape "
                f"{list(result.shape)}")
        return self.copy_(result)
    return run


def tensor_base(fn):
    """pow with a tensor base and a Python-number or tensor exponent; a number base or a bool
    exponent is not ours."""
    def run(self, exponent, *args, **kwargs):
        if (not isinstance(self, torch.Tensor) or isinstance(exponent, bool)
                or not isinstance(exponent, (numbers.Number, torch.Tensor))):
            return NotImplemented
        return fn(self, exponent, *args, **kwargs)
    return run


def true_division(fn):
    """div without a rounding mode only: 'trunc' and 'floor' are not ours."""
    def run(*args, rounding_mode=None, **kwargs):
        if rounding_mode is not None:
            return NotImplemented
        return fn(*args, **kwargs)
    return run


def reflected(fn):
    """other OP self for Tensor.__rOP__(self, other)."""
    return lambda self, other: fn(other, self)


def relu_inplace(self):
    return F.relu(self, inplace=True)


def max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                            ceil_mode=False, return_indices=True):
    return F.max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices=True)


def max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
               return_indices=False):
    return F.max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode)


def softmax_method(fn):
    """torch.softmax(input, dim, dtype=None) / Tensor.softmax(dim, dtype=None): dtype is the third
    positional argument there, _stacklevel in torch.nn.functional's."""
    def run(input, dim, dtype=None):
        return fn(input, dim, dtype=dtype)
    return run


def attention_without_dropout(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                              enable_gqa=False):
    """Attention dropout (dropout_p > 0) is not ours: native runs it."""
    if dropout_p != 0.0:
        return NotImplemented
    return F.scaled_dot_product_attention(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa)
