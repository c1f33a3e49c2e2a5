"""Sample tensors in a given layout: the memory layouts the kernels must handle."""
import functools

import torch

def make_tensor(*shape, dtype, device, layout="contiguous", low=None, high=None, away=0.0, grad=True):
    """A leaf of `shape`: standard normal, or uniform in [low, high); `away` pushes values that
    far from zero (away from relu's kink and pow's pole, where finite differences fail).
    layout: "strided" takes every other element of a tensor twice as large in each dim,
    "transposed" swaps the last two dims in memory, "channels_last" is 4-D NHWC."""
    def values(size):
        if low is None:
            t = torch.randn(size, dtype=dtype, device=device)
        else:
            t = torch.rand(size, dtype=dtype, device=device) * (high - low) + low
        return t + away * t.sign() if away else t
    if layout == "strided":
        t = values([2 * s for s in shape])[tuple(slice(None, None, 2) for _ in shape)]
    elif layout == "transposed":
        t = values(shape[:-2] + (shape[-1], shape[-2])).transpose(-1, -2)
    elif layout == "channels_last":
        t = values(shape).contiguous(memory_format=torch.channels_last)
    else:
        t = values(shape)
    return t.detach().requires_grad_(grad)


def maker(dtype, device):
    """make(*shape, **options) for samples(make) in one dtype and device."""
    return functools.partial(make_tensor, dtype=dtype, device=device)
