// relu, its backward and the fused residual add+relu (CUDA kernels).
#include "activation.h"
#include "cuda_utils.cuh"

namespace torchext::cuda {
namespace {

template <typename T>
__global__ void relu_kernel(const T* in, T* out, int64_t n) {
  for (int64_t i = thread_index(); i < n; i += thread_count())
    out[i] = static_cast<T>(relu_value(static_cast<acc_t<T>>(in[i])));
}

template <typename T>
__global__ void relu_backward_kernel(const T* __restrict__ grad, const T* __restrict__ result,
                                     T* __restrict__ out, int64_t n) {
  for (int64_t i = thread_index(); i < n; i += thread_count())
    out[i] = static_cast<acc_t<T>>(result[i]) <= acc_t<T>(0) ? T(0) : grad[i];
}

template <typename T>
__global__ void add_relu_kernel(const T* __restrict__ a, const T* __restrict__ b,
                                T* __restrict__ out, int64_t n) {
  for (int64_t i = thread_index(); i < n; i += thread_count()) {
    const acc_t<T> s = static_cast<acc_t<T>>(a[i]) + static_cast<acc_t<T>>(b[i]);
    out[i] = static_cast<T>(relu_value(s));
  }
}

}  // namespace

template <typename T>
void relu_launch(const T* in, T* out, int64_t n) {
  if (n == 0) return;
  relu_kernel<<<grid_for(n), kBlock, 0, current_stream()>>>(in, out, n);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T>
void relu_backward_launch(const T* grad, const T* result, T* out, int64_t n) {
  if (n == 0) return;
  relu_backward_kernel<<<grid_for(n), kBlock, 0, current_stream()>>>(grad, result, out, n);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T>
void add_relu_launch(const T* a, const T* b, T* out, int64_t n) {
  if (n == 0) return;
  add_relu_kernel<<<grid_for(n), kBlock, 0, current_stream()>>>(a, b, out, n);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

#define INSTANTIATE(T)                                                         \
  template void relu_launch<T>(const T*, T*, int64_t);                        \
  template void relu_backward_launch<T>(const T*, const T*, T*, int64_t);     \
  template void add_relu_launch<T>(const T*, const T*, T*, int64_t);
TORCHEXT_FOR_CUDA_FLOATING_TYPES(INSTANTIATE)
#undef INSTANTIATE

}  // namespace torchext::cuda
