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
from .functions.concat import cat  # noqa: F401
from .functions.layer_norm import layer_norm  # noqa: F401
from .functions.dropout import dropout, stochastic_depth  # noqa: F401


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
