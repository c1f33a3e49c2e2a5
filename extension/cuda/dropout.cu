// dropout's CUDA kernels: the keep mask's draw and the masked scaling.
#include "cuda_utils.cuh"
#include "dropout.h"

namespace torchext::cuda {
namespace {

// SplitMix64's finaliser: a bijection of 64-bit words that mixes every input bit into every
// output bit.
__device__ __forceinline__ uint64_t mix64(uint64_t z) {
  z += 0x9e3779b97f4a7c15ull;
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

// A uniform in [0, 1) from 53 bits, compared as an integer scaled by 2^53 (exact).
__global__ void dropout_draw_kernel(uint64_t seed, uint64_t offset, double threshold, bool draw,
                                    int64_t groups, uint8_t* __restrict__ keep) {
  for (int64_t g = thread_index(); g < groups; g += thread_count()) {
    const uint64_t bits = mix64(seed ^ mix64(offset + static_cast<uint64_t>(g))) >> 11;
    keep[g] = draw && static_cast<double>(bits) < threshold;
  }
}

template <typename T>
__global__ void masked_scale_kernel(const T* x, const uint8_t* __restrict__ keep, int64_t n,
                                    int64_t inner, acc_t<T> scale, T* out) {
  using A = acc_t<T>;
  for (int64_t i = thread_index(); i < n; i += thread_count())
    out[i] = static_cast<T>(static_cast<A>(x[i]) * (keep[i / inner] ? scale : A(0)));
}

}  // namespace

void dropout_draw_launch(uint64_t seed, uint64_t offset, double keep_prob, bool draw, int64_t groups,
                         uint8_t* keep) {
  if (groups == 0) return;
  dropout_draw_kernel<<<grid_for(groups), kBlock, 0, current_stream()>>>(
      seed, offset, keep_prob * 9007199254740992.0, draw, groups, keep);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T>
void masked_scale_launch(const T* x, const uint8_t* keep, int64_t groups, int64_t inner,
                         double keep_prob, T* out) {
  const int64_t n = groups * inner;
  if (n == 0) return;
  using A = acc_t<T>;
  const A scale = keep_prob > 0 ? A(1) / static_cast<A>(keep_prob) : A(0);
  masked_scale_kernel<<<grid_for(n), kBlock, 0, current_stream()>>>(x, keep, n, inner, scale, out);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

#define INSTANTIATE(T) \
  template void masked_scale_launch<T>(const T*, const uint8_t*, int64_t, int64_t, double, T*);
TORCHEXT_FOR_CUDA_FLOATING_TYPES(INSTANTIATE)
#undef INSTANTIATE

}  // namespace torchext::cuda
