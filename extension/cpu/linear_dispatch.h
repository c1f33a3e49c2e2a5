// linear's bias kernels (kernels/linear.cpp), dispatched to the capability in use (dispatch.h);
// its products are the GEMM (gemm_dispatch.h).
#pragma once
#include <cstdint>

#include "dispatch.h"

namespace torchext::cpu {

// out[i][j] += bias[j] over a contiguous [M, N] out.
template <typename T>
struct AddBiasRowsKernel {
  using Fn = void(T* out, const T* bias, int64_t M, int64_t N);
};

// grad_bias[j] = sum over i of grad[i][j] for a contiguous [M, N] grad.
template <typename T>
struct BiasGradColumnsKernel {
  using Fn = void(const T* grad, int64_t M, int64_t N, T* grad_bias);
};

}  // namespace torchext::cpu

TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::AddBiasRowsKernel);
TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::BiasGradColumnsKernel);
