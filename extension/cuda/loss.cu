// binary_cross_entropy_with_logits and its backward (CUDA kernels), computed in the accumulate
// type. log sigmoid(x) = min(x, 0) - log1p(exp(-|x|)) stays finite for any |x|; the gradient
// formulas are derived in extension/cpu/loss.cpp.
#include "cuda_utils.cuh"
#include "loss.h"

namespace torchext::cuda {
namespace {

template <typename A>
__device__ __forceinline__ A log_sigmoid(A x) {
  return min(x, A(0)) - log1p(exp(-abs(x)));
}

template <typename A>
__device__ __forceinline__ A sigmoid(A x) {
  return A(1) / (A(1) + exp(-x));
}

template <typename T>
__device__ __forceinline__ acc_t<T> load_or_one(const T* p, int64_t off) {
  return p != nullptr ? static_cast<acc_t<T>>(p[off]) : acc_t<T>(1);
}

template <typename T>
__global__ void bce_kernel(const T* __restrict__ self, const T* __restrict__ target,
                           const T* __restrict__ weight, const T* __restrict__ pos_weight,
                           T* __restrict__ loss, int64_t n, StridedIndexer<4> ix) {
  using A = acc_t<T>;
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    int64_t off[4];
    ix.offsets(i, off);
    const A x = static_cast<A>(self[off[0]]);
    const A t = static_cast<A>(target[off[1]]);
    const A w = load_or_one(weight, off[2]);
    const A p = load_or_one(pos_weight, off[3]);
    const A lw = (p - A(1)) * t + A(1);
    loss[i] = static_cast<T>(((A(1) - t) * x - lw * log_sigmoid(x)) * w);
  }
}

template <typename T>
__global__ void bce_backward_kernel(const T* __restrict__ grad_output, const T* __restrict__ self,
                                    const T* __restrict__ target, const T* __restrict__ weight,
                                    const T* __restrict__ pos_weight, T* __restrict__ grad_self,
                                    T* __restrict__ grad_target, int64_t n, StridedIndexer<5> ix,
                                    acc_t<T> count) {
  using A = acc_t<T>;
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    int64_t off[5];
    ix.offsets(i, off);
    const A g = static_cast<A>(grad_output[off[0]]);
    const A x = static_cast<A>(self[off[1]]);
    const A t = static_cast<A>(target[off[2]]);
    const A w = load_or_one(weight, off[3]);
    const A p = load_or_one(pos_weight, off[4]);
    if (grad_self != nullptr) {
      const A lw = (p - A(1)) * t + A(1);
      grad_self[i] = static_cast<T>((lw * sigmoid(x) - p * t) * g * w / count);
    }
    if (grad_target != nullptr)
      grad_target[i] = static_cast<T>(((p - A(1)) * -log_sigmoid(x) - x) * g * w / count);
  }
}

}  // namespace

template <typename T>
void bce_with_logits_launch(const T* self, const T* target, const T* weight, const T* pos_weight,
                            T* loss, int64_t n, const StridedIndexer<4>& ix) {
  if (n == 0) return;
  bce_kernel<<<grid_for(n), kBlock, 0, current_stream()>>>(self, target, weight, pos_weight, loss,
                                                           n, ix);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T>
void bce_with_logits_backward_launch(const T* grad_output, const T* self, const T* target,
                                     const T* weight, const T* pos_weight, T* grad_self,
                                     T* grad_target, int64_t n, const StridedIndexer<5>& ix,
                                     double count) {
  if (n == 0 || (grad_self == nullptr && grad_target == nullptr)) return;
  bce_backward_kernel<<<grid_for(n), kBlock, 0, current_stream()>>>(
      grad_output, self, target, weight, pos_weight, grad_self, grad_target, n, ix,
      static_cast<acc_t<T>>(count));
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

#define INSTANTIATE(T)                                                                        \
  template void bce_with_logits_launch<T>(const T*, const T*, const T*, const T*, T*, int64_t, \
                                          const StridedIndexer<4>&);                           \
  template void bce_with_logits_backward_launch<T>(const T*, const T*, const T*, const T*,     \
                                                   const T*, T*, T*, int64_t,                  \
                                                   const StridedIndexer<5>&, double);
TORCHEXT_FOR_CUDA_FLOATING_TYPES(INSTANTIATE)
#undef INSTANTIATE

}  // namespace torchext::cuda
