"""Table entries: add, sub, rsub, mul, div, pow."""
import torch

from .. import functional as F
from .adapters import in_place, reflected, tensor_base, true_division
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
    """Tensor exponents with positive bases (log(a) in the exponent's gradient), number exponents
    of every sign."""
    return [
        Sample((make(3, 1, 4, low=0.5, high=2.0), make(2, 4)), name="tensor exponent, broadcast", grad_terms=3),
        Sample((make(3, 4), 3), name="cube"),
        Sample((make(3, 4, low=0.5, high=2.0), -1.5), name="negative fractional"),
        Sample((make(6, low=0.5, high=2.0), 0.5), name="square root"),
        Sample((make(2, 3, 4, 5, layout="channels_last"), 2), name="channels_last"),
        Sample((make(5, 3, layout="strided", away=0.2), -2), name="strided, negative integer"),
        Sample((make(3, 4), 0), name="exponent 0"),
        Sample((make(0, 2), 2.5), name="empty"),
        Sample((make(4, 3, layout="transposed", low=0.5, high=2.0), make(3, layout="strided")),
               name="tensor exponent, transposed", grad_terms=4),
        Sample((make(2, 3, 4, 5, layout="channels_last", low=0.5, high=2.0), make(3, 1, 1, grad=False)),
               name="tensor exponent, channels_last"),
        Sample((make(5, low=0.5, high=2.0, grad=False), make()), name="tensor exponent, 0-dim", grad_terms=5),
        Sample((make(0, 3, low=0.5, high=2.0), make(3)), name="tensor exponent, empty"),
    ]


def _div_samples(make):
    """Divisors kept 0.5 away from zero, where the quotient and its gradients blow up."""
    def divisor(*shape, **kw):
        return make(*shape, away=0.5, **kw)
    return [
        Sample((make(3, 1, 5), divisor(2, 5)), name="broadcast", grad_terms=3),
        Sample((make(5, 3, layout="transposed"), divisor(3)), name="transposed, row broadcast", grad_terms=5),
        Sample((make(4, 7, layout="strided"), divisor(4, 7, layout="strided")), name="strided"),
        Sample((make(2, 3, 4, 5, layout="channels_last"), divisor(3, 1, 1)), name="channels_last", grad_terms=40),
        Sample((make(0, 3), divisor(3)), name="empty"),
        Sample((make(), divisor()), name="0-dim"),
        Sample((make(4, 3), divisor(4, 3, grad=False)), name="one side needs grad"),
        Sample((make(4, 3), 2.5), name="number other"),
        Sample((-1.5, divisor(3, 5, layout="transposed")), name="number input"),
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
           torch_ops=("pow_scalar", "mul_scalar", "mul", "pow", "pow_backward", "sum"),
           routes=(Route(tensor_base(F.pow), (torch.pow, T.pow, T.__pow__)),
                   Route(tensor_base(in_place(F.pow)), (T.pow_, T.__ipow__))),
           determinism=lambda make: [Sample((make(300, 257), 3)),
                                     # base >= 1 and exponent > 0: the gradients' terms keep one sign
                                     Sample((make(300, 257, low=1.0, high=2.0), make(257, low=0.5, high=1.5)),
                                            split_sum=300)]),
    OpInfo("div", F.div, torch.div, _div_samples,
           torch_ops=("div", "div_scalar", "rdiv_scalar", "mul", "mul_scalar", "sum"),
           routes=(Route(true_division(F.div), (torch.div, torch.divide, torch.true_divide, T.div, T.divide,
                                                T.true_divide, T.__truediv__, T.__div__)),
                   Route(true_division(reflected(F.div)), (T.__rtruediv__, T.__rdiv__)),
                   Route(true_division(in_place(F.div)), (T.div_, T.divide_, T.true_divide_, T.__itruediv__,
                                                          T.__idiv__))),
           determinism=lambda make: [Sample((make(300, 257), make(257, away=0.5)), split_sum=300)]),
]
