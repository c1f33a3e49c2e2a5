// The strided copy behind cat (CUDA kernel): one thread per element of one input, contiguous
// runs (the common case: inputs and output in the same memory format) without index arithmetic.
#include "cat.h"
#include "cuda_utils.cuh"

namespace torchext::cuda {
namespace {

template <typename T>
__global__ void strided_copy_kernel(const T* __restrict__ in, T* __restrict__ out, int64_t n,
                                    StridedIndexer<2> ix) {
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    int64_t off[2];
    ix.offsets(i, off);
    out[off[0]] = in[off[1]];
  }
}

}  // namespace

template <typename T>
void strided_copy_launch(const T* in, T* out, int64_t n, const StridedIndexer<2>& ix) {
  if (n == 0) return;
  strided_copy_kernel<<<grid_for(n), kBlock, 0, current_stream()>>>(in, out, n, ix);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

#define INSTANTIATE(T) template void strided_copy_launch<T>(const T*, T*, int64_t, const StridedIndexer<2>&);
TORCHEXT_FOR_CUDA_FLOATING_TYPES(INSTANTIATE)
#undef INSTANTIATE

}  // namespace torchext::cuda
