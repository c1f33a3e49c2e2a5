// Block-per-row reductions for the normalisation kernels: each block owns a row, its threads
// stride across the row, and the block's partials meet in shared memory (a tree, blockDim.x a
// power of two). Included by .cu files only.
#pragma once
#include "cuda_utils.cuh"

namespace torchext::cuda {

// Threads per row block.
constexpr int kRowBlock = 256;

// The sum of v over the block's threads, returned to every thread. `shared` holds blockDim.x
// values of A (an array reference, so the emulator's checked shared arrays pass too); the final
// barrier lets the next call reuse it.
template <typename A, typename Shared>
__device__ __forceinline__ A block_sum(A v, Shared& shared) {
  const int t = threadIdx.x;
  shared[t] = v;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    if (t < half) shared[t] = shared[t] + shared[t + half];
    __syncthreads();
  }
  const A total = shared[0];
  __syncthreads();
  return total;
}

}  // namespace torchext::cuda
