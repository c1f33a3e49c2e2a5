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

# Extra flags of single kernel sources (names in extension/cpu/kernels/), for every capability.
# -fno-trapping-math: lets GCC if-convert the selects of the activations' functors and pow's
# special cases (clamps, the range checks of simd_math.h); with trapping math it keeps branches
# and their loops stay scalar.
# The floating-point status flags are never read, and the flag permits no reassociation.
SOURCE_FLAGS = {
    "pointwise.cpp": ["-fno-trapping-math"],
    "pow.cpp": ["-fno-trapping-math"],
}
