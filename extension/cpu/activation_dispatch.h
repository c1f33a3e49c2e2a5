// relu's kernels (kernels/activation.cpp), dispatched to the capability in use (dispatch.h).
// Contiguous operands of n elements; `out` may be `in` (in-place relu).
#pragma once
#include <cstdint>

#include "dispatch.h"

namespace torchext::cpu {

template <typename T>
struct ReluKernel {
  using Fn = void(const T* in, T* out, int64_t n);
};

// out = grad where result > 0 (or NaN), else 0.
template <typename T>
struct ReluBackwardKernel {
  using Fn = void(const T* grad, const T* result, T* out, int64_t n);
};

// out = relu(a + b).
template <typename T>
struct AddReluKernel {
  using Fn = void(const T* a, const T* b, T* out, int64_t n);
};

}  // namespace torchext::cpu

TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::ReluKernel);
TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::ReluBackwardKernel);
TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::AddReluKernel);
