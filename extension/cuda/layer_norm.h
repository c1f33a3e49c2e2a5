// Launchers of the layer_norm CUDA kernels (layer_norm.cu). x is M contiguous rows of N values;
// weight and bias (N values, or null) have x's dtype; mean and rstd are in the accumulate type.
#pragma once
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cstdint>

#include "acc_type.h"

namespace torchext::cuda {

// out = (x - mean) * rstd * weight + bias per row, rstd = 1 / sqrt(biased var + eps).
template <typename T>
void layer_norm_launch(const T* x, const T* weight, const T* bias, int64_t M, int64_t N, double eps,
                       T* out, acc_t<T>* mean, acc_t<T>* rstd);

// The gradients asked for (a null output is skipped): dx[M, N], dweight[N], dbias[N].
template <typename T>
void layer_norm_backward_launch(const T* dy, const T* x, const acc_t<T>* mean, const acc_t<T>* rstd,
                                const T* weight, int64_t M, int64_t N, T* dx, T* dweight, T* dbias);

}  // namespace torchext::cuda
