// The direct depthwise convolution kernels (kernels/depthwise_conv2d.cpp): groups == input
// channels, each input channel convolved with its own `multiplier` filters (out_channels =
// channels * multiplier), dispatched to the capability in use (dispatch.h).
#pragma once
#include <algorithm>
#include <cstdint>

#include "../geometry.h"
#include "dispatch.h"

namespace torchext::cpu {

// The per-plane scratch the kernels pad their operands into, so that every inner loop reads
// whole blocks of unit-stride values without bounds checks:
//  - the input plane: `rows` padded rows, each split into stride_w phases (column phase p holds
//    padded columns p, p + stride_w, ...) of `len` values, so a strided tap reads a phase with
//    unit stride; zero outside the image and up to a block past the last output column;
//  - each grad_output plane (backward): rows of `grad_len` values, the row's first value at
//    `grad_left`, zero around it.
struct DepthwiseLayout {
  // The widest block of outputs an inner loop computes at once (4 vectors of 8 floats).
  static constexpr int64_t kBlock = 32;
  int64_t rows, len, grad_left, grad_len;

  explicit DepthwiseLayout(const ConvGeometry& g) {
    const auto round_up = [](int64_t v) { return (v + kBlock - 1) / kBlock * kBlock; };
    const int64_t reach = (g.kernel_w - 1) * g.dilation_w / g.stride_w;  // phase values a tap row spans
    rows = (g.out_h - 1) * g.stride_h + (g.kernel_h - 1) * g.dilation_h + 1;
    len = round_up(g.out_w) + reach;
    grad_left = reach;
    const int64_t in_phase = (g.width + g.stride_w - 1) / g.stride_w;  // input columns per phase
    grad_len = grad_left + std::max(round_up(g.out_w),
                                    round_up(in_phase) + (g.stride_w - 1 + g.pad_left) / g.stride_w);
  }
  int64_t input_elements(const ConvGeometry& g) const { return rows * g.stride_w * len; }
  int64_t grad_elements(const ConvGeometry& g, int64_t multiplier) const {
    return multiplier * g.out_h * grad_len;
  }
};

// out = conv2d(x, w, groups = channels) + bias (bias may be null), contiguous NCHW.
template <typename T>
struct DepthwiseForwardKernel {
  using Fn = void(const Conv2dArgs& args, const T* x, const T* w, const T* bias, T* out);
};

// The input and weight gradients (a null grad_in or grad_w is not computed; x is read only for
// grad_w).
template <typename T>
struct DepthwiseBackwardKernel {
  using Fn = void(const Conv2dArgs& args, const T* grad_out, const T* x, const T* w, T* grad_in, T* grad_w);
};

}  // namespace torchext::cpu

TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::DepthwiseForwardKernel);
TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::DepthwiseBackwardKernel);
