// conv2d's kernels (kernels/conv2d.cpp), dispatched to the capability in use (dispatch.h).
#pragma once
#include <cstdint>

#include "../geometry.h"
#include "dispatch.h"

namespace torchext::cpu {

// How each product of a convolution runs: Winograd F(m x m, 3x3) with m = 2 or 4, or 0 for the
// direct path (im2col / implicit GEMM). Chosen by the generic code (conv2d_algorithm.h).
struct ConvTiles {
  int forward = 0, input_grad = 0, weight_grad = 0;
};

// out = conv2d(x, w) + bias (bias may be null), contiguous NCHW.
template <typename T>
struct Conv2dForwardKernel {
  using Fn = void(const Conv2dArgs& args, const ConvTiles& tiles, const T* x, const T* w, const T* bias, T* out);
};

// The input and weight gradients (a null grad_in or grad_w is not computed; x is read only for
// grad_w).
template <typename T>
struct Conv2dBackwardKernel {
  using Fn = void(const Conv2dArgs& args, const ConvTiles& tiles, const T* grad_out, const T* x, const T* w,
                  T* grad_in, T* grad_w);
};

// grad_bias[c] = sum over images and pixels of grad_out[n][c][p].
template <typename T>
struct Conv2dBiasGradKernel {
  using Fn = void(const T* grad_out, int64_t images, int64_t channels, int64_t pixels, T* grad_bias);
};

}  // namespace torchext::cpu

TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::Conv2dForwardKernel);
TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::Conv2dBackwardKernel);
TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::Conv2dBiasGradKernel);
