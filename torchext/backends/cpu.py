"""torchext's CPU backend: which instruction set its kernels use, and how convolutions run.

Instruction set:

Every CPU kernel is compiled for several capabilities in one build ("default": the x86-64
baseline; "avx2": AVX2+FMA; "avx512": AVX-512 F/BW/VL/DQ). The best one this CPU supports is
used unless the environment variable TORCHEXT_CPU_CAPABILITY names another when torchext is
imported; naming one the CPU lacks (or an unknown name) makes the import raise RuntimeError.

Switching is process-wide and not synchronised with ops running on other threads: switch between
ops, not while another thread runs one.

Convolution (switches in the spirit of torch.backends.cudnn):

    torchext.backends.cpu.allow_winograd = False      # keep convolutions within 2x native's error
    with torchext.backends.cpu.flags(conv_algorithm="direct"):
        ...

allow_winograd (default True): 3x3 stride-1 convolutions (forward, input and weight gradients)
may run as Winograd F(2x2,3x3) or F(4x4,3x3), which take 2.25x or 4x fewer multiplies than direct
convolution but round more. float32 error against a float64 reference, as a multiple of native
float32's on the same inputs (measured on ResNet18's 3x3 layers on an AMD EPYC Zen 3; the tests
allow 16x): F(2x2,3x3) 0.4-0.8x in the forward, 1.2-2.7x in the input gradient (native's backward
rounds less than its forward) and 0.4-2.3x in the weight gradient; F(4x4,3x3) 1.7-3.3x, 5-9x and
0.6-6.3x. Off, the automatic choice keeps to direct convolution (tested at most 2x native's error).

conv_algorithm: "auto" (default; chosen per shape by cost), or "direct", "winograd_2x2",
"winograd_4x4" to force one wherever it applies (3x3, stride 1, dilation 1, groups 1), or
"depthwise" to force the direct depthwise kernels wherever they apply (groups == input channels,
any kernel, stride, padding, dilation and channel multiplier; "auto" takes them whenever groups
> 1). "direct" runs depthwise convolutions through im2col + GEMM like the others.
"""
import sys
import types
from contextlib import contextmanager

from .. import _C

_ALGORITHMS = ("auto", "direct", "winograd_2x2", "winograd_4x4", "depthwise")


def capability():
    """The capability whose kernels run now: "default", "avx2" or "avx512"."""
    return _C.cpu_capability()


def supported_capabilities():
    """The capabilities this CPU can run, baseline first."""
    return _C.supported_cpu_capabilities()


def set_capability(name):
    """Runs the CPU kernels compiled for `name` from now on (RuntimeError if the CPU lacks it)."""
    _C.set_cpu_capability(name)


@contextmanager
def capability_scope(name):
    """Runs the body with the kernels of `name`, then restores the previous capability."""
    previous = capability()
    set_capability(name)
    try:
        yield
    finally:
        set_capability(previous)


@contextmanager
def flags(allow_winograd=None, conv_algorithm=None):
    """Sets the given convolution switches inside the block and restores the previous ones after."""
    saved = _C._conv_settings()
    try:
        if allow_winograd is not None:
            _set(allow_winograd=allow_winograd)
        if conv_algorithm is not None:
            _set(conv_algorithm=conv_algorithm)
        yield
    finally:
        _C._set_conv_settings(*saved)


def _set(allow_winograd=None, conv_algorithm=None):
    allow, algorithm = _C._conv_settings()
    if allow_winograd is not None:
        allow = bool(allow_winograd)
    if conv_algorithm is not None:
        if conv_algorithm not in _ALGORITHMS:
            raise ValueError(f"torchext.backends.cpu.conv_algorithm: expected one of {_ALGORITHMS} "
                             f"but got {conv_algorithm!r}")
        algorithm = _ALGORITHMS.index(conv_algorithm)
    _C._set_conv_settings(allow, algorithm)


class _CpuModule(types.ModuleType):
    """Module attributes that read and set the C++ settings (as torch.backends.cudnn does)."""

    @property
    def allow_winograd(self):
        return _C._conv_settings()[0]

    @allow_winograd.setter
    def allow_winograd(self, value):
        _set(allow_winograd=value)

    @property
    def conv_algorithm(self):
        return _ALGORITHMS[_C._conv_settings()[1]]

    @conv_algorithm.setter
    def conv_algorithm(self, name):
        _set(conv_algorithm=name)


sys.modules[__name__].__class__ = _CpuModule
