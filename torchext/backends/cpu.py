"""Which instruction set torchext's CPU kernels use.

Every CPU kernel is compiled for several capabilities in one build ("default": the x86-64
baseline; "avx2": AVX2+FMA; "avx512": AVX-512 F/BW/VL/DQ). The best one this CPU supports is
used unless the environment variable TORCHEXT_CPU_CAPABILITY names another when torchext is
imported; naming one the CPU lacks (or an unknown name) makes the import raise RuntimeError.

Switching is process-wide and not synchronised with ops running on other threads: switch between
ops, not while another thread runs one.
"""
from contextlib import contextmanager

from .. import _C


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
