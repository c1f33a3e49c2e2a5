// batch_norm's passes (kernels/batch_norm_kernels.h), dispatched to the capability in use
// (dispatch.h). Tensors are contiguous in the ChannelLayout's memory format.
#pragma once
#include "channel_layout.h"
#include "dispatch.h"

namespace torchext::cpu {

// Per-channel mean and biased variance of x into mean[C], var[C].
template <typename T>
struct ChannelMomentsKernel {
  using Fn = void(const ChannelLayout& L, const T* x, double* mean, double* var);
};

// Per-channel sum(dy) and sum(dy * (x - mean)) into s_dy[C], s_dyx[C]. With `relu_out` (the
// output of a batch norm followed by a relu) dy is first masked as relu's backward masks it,
// dy = relu_out <= 0 ? 0 : dy, and the masked dy is written to masked_dy.
template <typename T>
struct ChannelGradSumsKernel {
  using Fn = void(const ChannelLayout& L, const T* dy, const T* x, const double* mean,
                  const T* relu_out, T* masked_dy, double* s_dy, double* s_dyx);
};

// out = (x - center[c]) * scale[c] + shift[c], plus residual when given, then relu when asked.
template <typename T>
struct ChannelNormalizeKernel {
  using Fn = void(const ChannelLayout& L, const T* x, const T* center, const T* scale,
                  const T* shift, const T* residual, bool relu, T* out);
};

// Training input gradient: out = k[c] * (dy - mdy[c] - (x - mean[c]) * proj[c]).
template <typename T>
struct ChannelInputGradKernel {
  using Fn = void(const ChannelLayout& L, const T* dy, const T* x, const T* k, const T* mdy,
                  const T* mean, const T* proj, T* out);
};

}  // namespace torchext::cpu

TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::ChannelMomentsKernel);
TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::ChannelGradSumsKernel);
TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::ChannelNormalizeKernel);
TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::ChannelInputGradKernel);
