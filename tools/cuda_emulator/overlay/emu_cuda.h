// Runs CUDA kernels on the CPU for checking them where there is no GPU (tools/cuda_emulator):
// the launch (emu_launch.h) checks the launch limits and runs blocks concurrently in a shuffled
// order; a block's threads are fibers and __syncthreads a checked barrier between them
// (emu_block.h); __shared__ memory is a per-block arena with a racecheck (emu_shared.h); atomics
// are std::atomic_ref.
#pragma once
#include <atomic>
#include <cmath>
#include <cstdint>

#include "emu_launch.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)

#define blockIdx (::emu::tl_blockIdx)
#define threadIdx (::emu::tl_threadIdx)
#define blockDim (::emu::tl_blockDim)
#define gridDim (::emu::tl_gridDim)
#define __syncthreads() ::emu::sync_threads(::emu::Site{__FILE__, __LINE__})
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline double __fma_rn(double a, double b, double c) { return std::fma(a, b, c); }
inline float rsqrt(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
template <typename A>
inline A atomicAdd(A* p, A v) { return std::atomic_ref<A>(*p).fetch_add(v); }
using std::min; using std::max; using std::sqrt; using std::exp; using std::log1p; using std::abs; using std::pow;
