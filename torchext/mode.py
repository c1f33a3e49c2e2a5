"""torchext.enable(): a TorchFunctionMode under which torch functions, Tensor methods and
operators for the ops torchext implements run on torchext kernels (the routes are the op table's,
torchext/optable). Anything else (other ops, integer/bool/complex tensors, `out=` arguments,
tensor exponents) falls through to native."""
import torch
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

from ._library import HAS_CUDA_KERNELS
from .optable import bool_tensor_routes, routes

_CPU_DTYPES = (torch.float32, torch.float64)
_CUDA_DTYPES = (torch.float16, torch.bfloat16, torch.float32, torch.float64)


def _supported(tensor):
    if tensor.is_cuda:
        return HAS_CUDA_KERNELS and tensor.dtype in _CUDA_DTYPES
    return tensor.device.type == "cpu" and tensor.dtype in _CPU_DTYPES


class enable(TorchFunctionMode):
    """Context manager: route the supported torch ops to torchext while active.

        with torchext.enable():
            Q = 3 * a**3 - b**2      # pow, mul and sub run on torchext kernels
    """

    _table = None
    _bool_ok = None

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if enable._table is None:
            enable._table = routes()
            enable._bool_ok = bool_tensor_routes()
        ours = enable._table.get(func)
        if ours is not None and "out" not in kwargs:
            tensors = [x for x in tree_leaves((args, kwargs)) if isinstance(x, torch.Tensor)]
            bool_ok = func in enable._bool_ok
            if tensors and all(_supported(t) or (bool_ok and t.dtype == torch.bool) for t in tensors):
                result = ours(*args, **kwargs)
                if result is not NotImplemented:
                    return result
        return func(*args, **kwargs)
