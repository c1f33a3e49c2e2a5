// layer_norm's kernels (kernels/layer_norm.cpp), dispatched to the capability in use (dispatch.h).
// x is M contiguous rows of N values (the normalized dims); weight and bias, N values, may be null.
#pragma once
#include <cstdint>

#include "dispatch.h"

namespace torchext::cpu {

// out = (x - mean) * rstd * weight + bias per row; mean[M] and rstd[M] = 1 / sqrt(var + eps).
template <typename T>
struct LayerNormKernel {
  using Fn = void(const T* x, const T* weight, const T* bias, int64_t M, int64_t N, double eps,
                  T* out, T* mean, T* rstd);
};

// The gradients asked for (a null output is skipped): dx[M, N], dweight[N], dbias[N].
template <typename T>
struct LayerNormBackwardKernel {
  using Fn = void(const T* dy, const T* x, const T* mean, const T* rstd, const T* weight,
                  int64_t M, int64_t N, T* dx, T* dweight, T* dbias);
};

}  // namespace torchext::cpu

TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::LayerNormKernel);
TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::LayerNormBackwardKernel);
