"""Table entries: add, sub, rsub, mul, pow."""
import torch

from .. import functional as F
from .adapters import in_place, reflected, scalar_exponent
from .opinfo import OpInfo, Route, Sample

T = torch.Tensor


def _binary(make, number_first=True, **kwargs):
    """Tensor-tensor (broadcast, odd sizes, every layout, empty, 0-dim) and tensor-number forms;
    number_first: also number-tensor (native's rsub has no such form)."""
    samples = [
        Sample((make(3, 1, 5), make(2, 5)), kwargs, "broadcast", grad_terms=3),
        Sample((make(5, 3, layout="transposed"), make(3)), kwargs, "transposed, row broadcast", grad_terms=5),
        Sample((make(4, 7, layout="strided"), make(4, 7, layout="strided")), kwargs, "strided"),
        Sample((make(2, 3, 4, 5, layout="channels_last"), make(3, 1, 1)), kwargs, "channels_last",
               grad_terms=40),
        Sample((make(0, 3), make(3)), kwargs, "empty"),
        Sample((make(), make()), kwargs, "0-dim"),
        Sample((make(4, 3), make(4, 3, grad=False)), kwargs, "one side needs grad"),
        Sample((make(4, 3), 2.5), kwargs, "number other"),
    ]
    if number_first:
        samples.append(Sample((-1.5, make(3, 5, layout="transposed")), kwargs, "number input"))
    return samples


def _pow_samples(make):
    return [
        Sample((make(3, 4), 3), name="cube"),
        Sample((make(3, 4, low=0.5, high=2.0), -1.5), name="negative fractional"),
        Sample((make(6, low=0.5, high=2.0), 0.5), name="square root"),
        Sample((make(2, 3, 4, 5, layout="channels_last"), 2), name="channels_last"),
        Sample((make(5, 3, layout="strided", away=0.2), -2), name="strided, negative integer"),
        Sample((make(3, 4), 0), name="exponent 0"),
        Sample((make(0, 2), 2.5), name="empty"),
    ]


ENTRIES = [
    OpInfo("add", F.add, torch.add, lambda make: _binary(make, alpha=0.5),
           torch_ops=("add", "add_scalar", "rsub_scalar", "mul_scalar", "sum"),
           routes=(Route(F.add, (torch.add, T.add, T.__add__, T.__radd__)),
                   Route(in_place(F.add), (T.add_, T.__iadd__))),
           determinism=lambda make: [Sample((make(300, 257), make(257)), {"alpha": 0.5}, split_sum=300)]),
    OpInfo("sub", F.sub, torch.sub, lambda make: _binary(make, alpha=2),
           torch_ops=("sub", "add_scalar", "rsub_scalar", "mul_scalar", "sum"),
           routes=(Route(F.sub, (torch.sub, torch.subtract, T.sub, T.__sub__)),
                   Route(in_place(F.sub), (T.sub_, T.__isub__))),
           determinism=lambda make: [Sample((make(300, 257), make(300, 1)), split_sum=257)]),
    OpInfo("rsub", F.rsub, torch.rsub, lambda make: _binary(make, number_first=False, alpha=-0.5),
           torch_ops=("sub", "rsub_scalar", "mul_scalar", "sum"),
           routes=(Route(F.rsub, (torch.rsub, T.__rsub__)),),
           determinism=lambda make: [Sample((make(300, 257), make(257)), split_sum=300)]),
    OpInfo("mul", F.mul, torch.mul, _binary,
           torch_ops=("mul", "mul_scalar", "sum"),
           routes=(Route(F.mul, (torch.mul, torch.multiply, T.mul, T.__mul__, T.__rmul__)),
                   Route(in_place(F.mul), (T.mul_, T.__imul__))),
           determinism=lambda make: [Sample((make(300, 257), make(300, 257)))]),
    OpInfo("pow", F.pow, torch.pow, _pow_samples,
           torch_ops=("pow_scalar", "mul_scalar", "mul"),
           routes=(Route(scalar_exponent(F.pow), (torch.pow, T.pow, T.__pow__)),
                   Route(scalar_exponent(in_place(F.pow)), (T.pow_, T.__ipow__))),
           determinism=lambda make: [Sample((make(300, 257), 3))]),
]
