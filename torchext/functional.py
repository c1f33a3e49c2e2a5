"""The functional API: each function has the signature and semantics of the torch function it
mirrors, and computes on torchext kernels through autograd Functions."""
import torch

from .functions import arguments
from .functions.activation import AddReLU, ReLU, ReLUInplace
from .functions.elementwise import add, div, mul, pow, rsub, sub  # noqa: F401
from .functions.loss import binary_cross_entropy_with_logits  # noqa: F401
from .functions.linalg import matmul  # noqa: F401
from .functions.reduction import mean, sum  # noqa: F401
from .functions.views import flatten, t, transpose  # noqa: F401
from .functions.conv import conv2d  # noqa: F401
from .functions.linear import linear  # noqa: F401
from .functions.norm import batch_norm, batch_norm_relu  # noqa: F401
from .functions.pooling import adaptive_avg_pool2d, avg_pool2d, max_pool2d  # noqa: F401
from .functions.concat import cat, chunk, split  # noqa: F401
from .functions.layer_norm import layer_norm  # noqa: F401
from .functions.dropout import dropout, stochastic_depth  # noqa: F401
from .functions.softmax import log_softmax, softmax  # noqa: F401
from .functions.attention import scaled_dot_product_attention  # noqa: F401
from .functions import pointwise as _pointwise


def relu(input, inplace=False):
    """torch.nn.functional.relu."""
    return relu_(input) if inplace else ReLU.apply(arguments.tensor("relu", "input", input))


def relu_(input):
    """torch.relu_."""
    arguments.tensor("relu_", "input", input)
    if input.is_leaf and input.requires_grad and torch.is_grad_enabled():
        raise RuntimeError("torchext.relu_: a leaf Variable that requires grad (input) is being used in an "
                           "in-place operation.")
    return ReLUInplace.apply(input)


def add_relu(input, other):
    """relu(input + other) fused, for residual blocks (shapes must match)."""
    arguments.tensor("add_relu", "input", input)
    arguments.tensor("add_relu", "other", other)
    return AddReLU.apply(input, other)


def _inplace_input(op, input):
    arguments.tensor(op, "input", input)
    if input.is_leaf and input.requires_grad and torch.is_grad_enabled():
        raise RuntimeError(f"torchext.{op}: a leaf Variable that requires grad (input) is being used in an "
                           "in-place operation.")
    return input


def _activation(op, spec, input, inplace, *args):
    """spec's op out of place, or in place when inplace (a bool, as native)."""
    if arguments.boolean(op, "inplace", inplace):
        return _pointwise.apply_inplace(spec, _inplace_input(op, input), *args)
    return _pointwise.apply(spec, arguments.tensor(op, "input", input), *args)


def sigmoid(input):
    """torch.sigmoid."""
    return _activation("sigmoid", _pointwise.SIGMOID, input, False)


def sigmoid_(input):
    """torch.sigmoid_."""
    return _activation("sigmoid_", _pointwise.SIGMOID, input, True)


def silu(input, inplace=False):
    """torch.nn.functional.silu."""
    return _activation("silu", _pointwise.SILU, input, inplace)


def _hardtanh_bounds(op, min_val, max_val):
    min_val, max_val = (float(arguments.real(op, n, v)) for n, v in (("min_val", min_val), ("max_val", max_val)))
    if min_val > max_val:
        raise ValueError(f"torchext.{op}: min_val cannot be greater than max_val "
                         f"(got min_val={min_val}, max_val={max_val})")
    return min_val, max_val


def hardtanh(input, min_val=-1.0, max_val=1.0, inplace=False):
    """torch.nn.functional.hardtanh."""
    bounds = _hardtanh_bounds("hardtanh", min_val, max_val)
    return _activation("hardtanh", _pointwise.HARDTANH, input, inplace, *bounds)


def hardtanh_(input, min_val=-1.0, max_val=1.0):
    """torch.nn.functional.hardtanh_."""
    bounds = _hardtanh_bounds("hardtanh_", min_val, max_val)
    return _activation("hardtanh_", _pointwise.HARDTANH, input, True, *bounds)


_KERNEL_DTYPES = {"cpu": (torch.float32, torch.float64),
                  "cuda": (torch.float16, torch.bfloat16, torch.float32, torch.float64)}


def relu6(input, inplace=False):
    """torch.nn.functional.relu6: hardtanh(input, 0, 6) (the dtype checked here, so that an error
    names relu6 rather than the hardtanh kernel)."""
    arguments.tensor("relu6", "input", input)
    dtypes = _KERNEL_DTYPES.get(input.device.type, (input.dtype,))
    if input.dtype not in dtypes:
        raise RuntimeError(f"torchext.relu6: expected input to be one of {', '.join(map(str, dtypes))} "
                           f"but got {input.dtype}")
    return _activation("relu6", _pointwise.HARDTANH, input, inplace, 0.0, 6.0)


def hardswish(input, inplace=False):
    """torch.nn.functional.hardswish."""
    return _activation("hardswish", _pointwise.HARDSWISH, input, inplace)


def hardsigmoid(input, inplace=False):
    """torch.nn.functional.hardsigmoid."""
    return _activation("hardsigmoid", _pointwise.HARDSIGMOID, input, inplace)


def gelu(input, approximate="none"):
    """torch.nn.functional.gelu."""
    if not isinstance(approximate, str):
        raise TypeError(f"torchext.gelu: expected approximate to be a str, but got {type(approximate).__name__}")
    if approximate not in ("none", "tanh"):
        raise RuntimeError(f"torchext.gelu: expected approximate to be 'none' or 'tanh' but got '{approximate}'")
    return _activation("gelu", _pointwise.GELU, input, False, approximate)
