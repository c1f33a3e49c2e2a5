"""Switches of torchext's CPU backend, in the spirit of torch.backends.cudnn.

    torchext.backends.cpu.allow_winograd = False      # keep convolutions within 2x native's error
    with torchext.backends.cpu.flags(conv_algorithm="direct"):
        ...

allow_winograd (default True): 3x3 stride-1 convolutions (forward and input gradient) may run as
Winograd F(2x2,3x3) or F(4x4,3x3), which take 2.25x or 4x fewer multiplies than direct convolution
but round more. float32 error against a float64 reference, as a multiple of native float32's on
the same inputs (measured on ResNet18's 3x3 layers; the tests allow 16x): F(2x2,3x3) 0.4-0.8x in
the forward and 1.2-2.7x in the input gradient (native's backward rounds less than its forward),
F(4x4,3x3) 1.7-3.3x and 5-9x. Off, the automatic choice keeps to direct convolution (tested at
most 2x native's error).

conv_algorithm: "auto" (default; chosen per shape by cost), or "direct", "winograd_2x2",
"winograd_4x4" to force one wherever it applies (3x3, stride 1, dilation 1, groups 1).
"""
import contextlib

from . import _C

_ALGORITHMS = ("auto", "direct", "winograd_2x2", "winograd_4x4")


class _CpuBackend:
    @property
    def allow_winograd(self):
        return _C._conv_settings()[0]

    @allow_winograd.setter
    def allow_winograd(self, value):
        _C._set_conv_settings(bool(value), _C._conv_settings()[1])

    @property
    def conv_algorithm(self):
        return _ALGORITHMS[_C._conv_settings()[1]]

    @conv_algorithm.setter
    def conv_algorithm(self, name):
        if name not in _ALGORITHMS:
            raise ValueError(f"torchext.backends.cpu.conv_algorithm: expected one of {_ALGORITHMS} but got {name!r}")
        _C._set_conv_settings(_C._conv_settings()[0], _ALGORITHMS.index(name))

    @contextlib.contextmanager
    def flags(self, allow_winograd=None, conv_algorithm=None):
        """Sets the given switches inside the block and restores the previous ones after it."""
        saved = _C._conv_settings()
        try:
            if allow_winograd is not None:
                self.allow_winograd = allow_winograd
            if conv_algorithm is not None:
                self.conv_algorithm = conv_algorithm
            yield
        finally:
            _C._set_conv_settings(*saved)


cpu = _CpuBackend()
