// Launchers of the batch normalisation CUDA kernels (batch_norm.cu). The input is a contiguous
// (outer, C, inner) block: channels-first tensors have outer = N and inner = the spatial size;
// channels-last 4-D tensors and 2-D inputs have inner = 1. Per-channel arrays are in the
// accumulate type A (float for half/bfloat16); a null weight or bias stands for 1 or 0.
#pragma once
#include <c10/macros/Macros.h>
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cstdint>

#include "acc_type.h"

namespace torchext::cuda {

struct ChannelShape {
  int64_t outer, channels, inner;
  C10_HOST_DEVICE int64_t per_channel() const { return outer * inner; }  // values each channel reduces over
};

// Batch statistics (per_channel() >= 2): mean and invstd = 1/sqrt(biased var + eps), by a
// parallel Welford pass. When running_mean is given, running = (1 - momentum) * running +
// momentum * stat for the mean and the unbiased variance, in place.
template <typename T>
void batch_norm_stats_launch(const T* x, const ChannelShape& s, double eps, double momentum,
                             acc_t<T>* mean, acc_t<T>* invstd, acc_t<T>* running_mean,
                             acc_t<T>* running_var);

// invstd[c] = 1/sqrt(var[c] + eps) (evaluation mode, from the running variance).
template <typename A>
void invstd_from_var_launch(const A* var, int64_t channels, double eps, A* invstd);

// y = (x - mean[c]) * invstd[c] * weight[c] + bias[c], plus residual (when not null), then relu
// when asked.
template <typename T>
void batch_norm_apply_launch(const T* x, const ChannelShape& s, const acc_t<T>* mean,
                             const acc_t<T>* invstd, const acc_t<T>* weight,
                             const acc_t<T>* bias, const T* residual, bool relu, T* y);

// sum_dy[c] = sum(dy), sum_dy_xmu[c] = sum(dy * (x - mean[c])), grad_weight[c] = sum_dy_xmu[c]
// * invstd[c] (the weight gradient, sum(dy * xhat)). With relu_out (not null), dy is first masked
// by relu's backward (0 where relu_out <= 0) and the masked dy written to masked_dy.
template <typename T>
void batch_norm_grad_sums_launch(const T* dy, const T* x, const ChannelShape& s,
                                 const acc_t<T>* mean, const acc_t<T>* invstd, const T* relu_out,
                                 T* masked_dy, acc_t<T>* sum_dy, acc_t<T>* sum_dy_xmu,
                                 acc_t<T>* grad_weight);

// Training (sums given), with k = weight * invstd and n values per channel:
//   dx = k * (dy - sum_dy / n - (x - mean) * invstd^2 * sum_dy_xmu / n)
// Evaluation (sums null; mean and invstd are constants): dx = k * dy.
template <typename T>
void batch_norm_input_grad_launch(const T* dy, const T* x, const ChannelShape& s,
                                  const acc_t<T>* mean, const acc_t<T>* invstd,
                                  const acc_t<T>* weight, const acc_t<T>* sum_dy,
                                  const acc_t<T>* sum_dy_xmu, T* dx);

}  // namespace torchext::cuda
