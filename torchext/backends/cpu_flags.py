"""The CPU capabilities every kernel in extension/cpu/kernels/ is compiled for, with the compiler
flags of each (read by setup.py, and by tests that compile kernel sources themselves). The names
match extension/cpu/capability.cpp, whose CPUID checks must cover every instruction set named
here. "default" is the x86-64 baseline that the generic code is compiled for too."""

_AVX2 = ["-mavx2", "-mfma", "-mf16c", "-mbmi", "-mbmi2"]

CPU_CAPABILITIES = {
    "default": [],
    "avx2": _AVX2,
    "avx512": _AVX2 + ["-mavx512f", "-mavx512bw", "-mavx512vl", "-mavx512dq"],
}
