// The CUDA runtime types the emulated kernels name.
#pragma once
using cudaStream_t = void*;
