// softmax/log_softmax kernels (kernels/softmax.cpp), dispatched to the capability in use
// (dispatch.h). The tensors are contiguous (outer, N, inner), reduced over N.
#pragma once
#include <cstdint>

#include "dispatch.h"

namespace torchext::cpu {

// out = softmax(x) (or log_softmax when log) over N.
template <typename T>
struct SoftmaxKernel {
  using Fn = void(const T* x, int64_t outer, int64_t N, int64_t inner, bool log, T* out);
};

// softmax: dx = y * (dy - sum(dy * y)); log_softmax: dx = dy - exp(y) * sum(dy); y the output.
template <typename T>
struct SoftmaxBackwardKernel {
  using Fn = void(const T* dy, const T* y, int64_t outer, int64_t N, int64_t inner, bool log, T* dx);
};

}  // namespace torchext::cpu

TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::SoftmaxKernel);
TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::SoftmaxBackwardKernel);
