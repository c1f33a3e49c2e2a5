// Device-side helpers shared by the torchext CUDA kernels (included only by .cu files, which
// stay free of the heavy ATen headers): accumulate types, launch configuration, grid-stride
// loops, the stream to launch on and the instantiation list of the supported dtypes.
#pragma once
#include <c10/cuda/CUDACachingAllocator.h>
#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAStream.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <algorithm>
#include <cstdint>

#include "acc_type.h"

namespace torchext::cuda {

constexpr int kBlock = 256;
// Grid-stride loops cover any n with at most this many blocks.
constexpr int64_t kMaxBlocks = 1 << 16;

inline cudaStream_t current_stream() { return c10::cuda::getCurrentCUDAStream().stream(); }

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

// Blocks of `block` threads for a grid-stride loop over n items (n > 0).
inline unsigned grid_for(int64_t n, int block = kBlock) {
  return static_cast<unsigned>(std::min(ceil_div(n, block), kMaxBlocks));
}

// Scratch device memory for `count` values of A from torch's caching allocator. It is released
// when the returned pointer goes out of scope; the allocator orders the reuse after the kernels
// already queued on the current stream, so launching and then dropping it is safe.
template <typename A>
c10::DataPtr allocate_scratch(int64_t count) {
  return c10::cuda::CUDACachingAllocator::get()->allocate(static_cast<size_t>(count) * sizeof(A));
}

__device__ __forceinline__ int64_t thread_index() {
  return static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
}

__device__ __forceinline__ int64_t thread_count() {
  return static_cast<int64_t>(gridDim.x) * blockDim.x;
}

// x * y + z with a single rounding, in the accumulate type (what nvcc makes of torch's own
// `a + alpha * b`; written out so the rounding does not depend on contraction flags).
__device__ __forceinline__ float fused_mul_add(float x, float y, float z) {
  return __fmaf_rn(x, y, z);
}
__device__ __forceinline__ double fused_mul_add(double x, double y, double z) {
  return __fma_rn(x, y, z);
}

// NaN-propagating max(x, 0), as torch.relu.
template <typename A>
__device__ __forceinline__ A relu_value(A x) {
  return (x > A(0) || x != x) ? x : A(0);
}

}  // namespace torchext::cuda

// Instantiates M(T) for every dtype the CUDA kernels support.
#define TORCHEXT_FOR_CUDA_FLOATING_TYPES(M) M(float) M(double) M(c10::Half) M(c10::BFloat16)
