// Launchers of the softmax/log_softmax CUDA kernels (softmax.cu). Tensors are contiguous
// (outer, N, inner), reduced over N; the arithmetic is in the accumulate type.
#pragma once
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cstdint>

namespace torchext::cuda {

template <typename T>
void softmax_launch(const T* x, int64_t outer, int64_t N, int64_t inner, bool log, T* out);

// softmax: dx = y * (dy - sum(dy * y)); log_softmax: dx = dy - exp(y) * sum(dy).
template <typename T>
void softmax_backward_launch(const T* dy, const T* y, int64_t outer, int64_t N, int64_t inner, bool log, T* dx);

}  // namespace torchext::cuda
