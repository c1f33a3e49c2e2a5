"""torchext.enable(): a TorchFunctionMode under which torch functions, Tensor methods and
operators for the ops torchext implements run on torchext kernels. Anything else (other ops,
integer/bool/complex tensors, `out=` arguments, tensor exponents) falls through to native."""
import numbers

import torch
import torch.nn.functional as NF
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

from . import functional as F
from ._library import HAS_CUDA_KERNELS

_CPU_DTYPES = (torch.float32, torch.float64)
_CUDA_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)

T = torch.Tensor


def _supported(tensor):
    if tensor.is_cuda:
        return HAS_CUDA_KERNELS and tensor.dtype in _CUDA_DTYPES
    return tensor.device.type == "cpu" and tensor.dtype in _CPU_DTYPES


def _in_place(fn):
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


def _scalar_exponent(fn):
    """pow with a Python-number exponent only; a tensor exponent is not ours."""
    def run(self, exponent, *args, **kwargs):
        if not isinstance(exponent, numbers.Number) or isinstance(exponent, bool):
            return NotImplemented
        return fn(self, exponent, *args, **kwargs)
    return run


def _reflected(fn):
    """other OP self for Tensor.__rOP__(self, other)."""
    return lambda self, other: fn(other, self)


def _relu_inplace(self):
    return F.relu(self, inplace=True)


def _max_pool2d_with_indices(input, kernel_size, stride=None, padding=0, dilation=1,
                             ceil_mode=False, return_indices=True):
    return F.max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode, return_indices=True)


def _max_pool2d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False,
                return_indices=False):
    return F.max_pool2d(input, kernel_size, stride, padding, dilation, ceil_mode)


def _routes():
    pow_ = _scalar_exponent(F.pow)
    table = {
        F.add: [torch.add, T.add, T.__add__, T.__radd__],
        _in_place(F.add): [T.add_, T.__iadd__],
        F.sub: [torch.sub, torch.subtract, T.sub, T.__sub__],
        _in_place(F.sub): [T.sub_, T.__isub__],
        F.rsub: [torch.rsub, T.__rsub__],
        F.mul: [torch.mul, torch.multiply, T.mul, T.__mul__, T.__rmul__],
        _in_place(F.mul): [T.mul_, T.__imul__],
        pow_: [torch.pow, T.pow, T.__pow__],
        _scalar_exponent(_in_place(F.pow)): [T.pow_, T.__ipow__],
        F.sum: [torch.sum, T.sum],
        F.matmul: [torch.matmul, T.matmul, T.__matmul__],
        _reflected(F.matmul): [T.__rmatmul__],
        F.t: [torch.t, T.t],
        F.transpose: [torch.transpose, torch.swapaxes, T.transpose, T.swapaxes],
        F.flatten: [torch.flatten, T.flatten],
        F.relu: [torch.relu, T.relu, NF.relu],
        _relu_inplace: [torch.relu_, T.relu_, NF.relu_],
        F.binary_cross_entropy_with_logits: [NF.binary_cross_entropy_with_logits],
        F.conv2d: [torch.conv2d, NF.conv2d],
        F.linear: [NF.linear],
        F.batch_norm: [NF.batch_norm],
        _max_pool2d: [NF._max_pool2d],
        _max_pool2d_with_indices: [NF.max_pool2d_with_indices],
        F.adaptive_avg_pool2d: [NF.adaptive_avg_pool2d],
    }
    return {func: ours for ours, funcs in table.items() for func in funcs}


class enable(TorchFunctionMode):
    """Context manager: route the supported torch ops to torchext while active.

        with torchext.enable():
            Q = 3 * a**3 - b**2      # pow, mul and sub run on torchext kernels
    """

    _table = None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if enable._table is None:
            enable._table = _routes()
        ours = enable._table.get(func)
        if ours is not None and "out" not in kwargs:
            tensors = [x for x in tree_leaves((args, kwargs)) if isinstance(x, torch.Tensor)]
            if tensors and all(_supported(t) for t in tensors):
                result = ours(*args, **kwargs)
                if result is not NotImplemented:
                    return result
        return func(*args, **kwargs)
