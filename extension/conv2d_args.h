// Argument checks and shape derivation for conv2d and conv2d_backward, shared by the CPU and CUDA
// host code. Only checks and size arithmetic: how a backend splits the work (chunks of images,
// direct GEMMs) stays with the backend, on top of Conv2dArgs.
#pragma once
#include <ATen/ATen.h>

#include <array>
#include <cstdint>

#include "common.h"
#include "geometry.h"

namespace torchext {

// Validates input, weight and the convolution parameters and derives the geometry (shared by
// forward and backward). Sizes are computed with overflow checks: absurd padding or dilation
// raises instead of wrapping around.
inline Conv2dArgs conv2d_args(const char* op, const at::Tensor& input, const at::Tensor& weight,
                              at::IntArrayRef stride, at::IntArrayRef padding,
                              at::IntArrayRef dilation, int64_t groups) {
  check_float(op, "input", input);
  check_float_on(op, "weight", weight, "input", input);
  check_same_dtype(op, "input", input, "weight", weight);
  TORCH_CHECK(input.dim() == 4, op, ": expected input to be 4-D (N, C, H, W) but got a ",
              input.dim(), "-D tensor of shape ", input.sizes());
  check_dim(op, "weight", weight, 4);
  TORCH_CHECK(stride.size() == 2, op, ": expected stride to have 2 values but got ", stride);
  TORCH_CHECK(padding.size() == 4, op,
              ": expected padding to have 4 values (top, bottom, left, right) but got ", padding);
  TORCH_CHECK(dilation.size() == 2, op, ": expected dilation to have 2 values but got ", dilation);
  TORCH_CHECK(stride[0] > 0 && stride[1] > 0, op, ": expected stride to be positive but got ",
              stride);
  TORCH_CHECK(dilation[0] > 0 && dilation[1] > 0, op,
              ": expected dilation to be positive but got ", dilation);
  for (int64_t p : padding) {
    TORCH_CHECK(p >= 0, op, ": expected padding to be non-negative but got ", padding);
  }
  TORCH_CHECK(groups > 0, op, ": expected groups to be positive but got ", groups);
  const int64_t channels = input.size(1), out_channels = weight.size(0);
  TORCH_CHECK(channels % groups == 0, op, ": expected input channels (", channels,
              ") to be divisible by groups (", groups, ")");
  TORCH_CHECK(out_channels % groups == 0, op, ": expected weight's output channels (",
              out_channels, ") to be divisible by groups (", groups, ")");
  TORCH_CHECK(weight.size(1) * groups == channels, op, ": weight of shape ", weight.sizes(),
              " expects ", weight.size(1) * groups, " input channels (", weight.size(1),
              " per group x ", groups, " groups) but input of shape ", input.sizes(), " has ",
              channels);

  ConvGeometry g{};
  g.channels = channels;
  g.height = input.size(2);
  g.width = input.size(3);
  g.kernel_h = weight.size(2);
  g.kernel_w = weight.size(3);
  g.stride_h = stride[0];
  g.stride_w = stride[1];
  g.pad_top = padding[0];
  g.pad_left = padding[2];
  g.dilation_h = dilation[0];
  g.dilation_w = dilation[1];
  // out = floor((padded - dilated_kernel) / stride) + 1, which is >= 1 exactly when the dilated
  // kernel fits in the padded input.
  TORCH_CHECK(g.kernel_h > 0 && g.kernel_w > 0, op,
              ": expected a non-empty kernel but weight has shape ", weight.sizes());
  int64_t padded_h, padded_w, span_h, span_w;
  const bool overflow = __builtin_add_overflow(g.height, padding[0], &padded_h) ||
                        __builtin_add_overflow(padded_h, padding[1], &padded_h) ||
                        __builtin_add_overflow(g.width, padding[2], &padded_w) ||
                        __builtin_add_overflow(padded_w, padding[3], &padded_w) ||
                        __builtin_mul_overflow(g.dilation_h, g.kernel_h - 1, &span_h) ||
                        __builtin_mul_overflow(g.dilation_w, g.kernel_w - 1, &span_w);
  TORCH_CHECK(!overflow, op, ": padding ", padding, " or dilation ", dilation,
              " too large: the padded input or the dilated kernel overflows int64");
  span_h += 1;
  span_w += 1;
  TORCH_CHECK(padded_h >= span_h && padded_w >= span_w, op, ": computed output size (",
              padded_h >= span_h ? (padded_h - span_h) / g.stride_h + 1 : 0, " x ",
              padded_w >= span_w ? (padded_w - span_w) / g.stride_w + 1 : 0,
              ") is too small: the dilated kernel (", span_h, " x ", span_w,
              ") is larger than the padded input (", padded_h, " x ", padded_w, ")");
  g.out_h = (padded_h - span_h) / g.stride_h + 1;
  g.out_w = (padded_w - span_w) / g.stride_w + 1;
  int64_t numel;
  TORCH_CHECK(!__builtin_mul_overflow(input.size(0) * out_channels, g.out_h, &numel) &&
                  !__builtin_mul_overflow(numel, g.out_w, &numel),
              op, ": the output of shape [", input.size(0), ", ", out_channels, ", ", g.out_h, ", ",
              g.out_w, "] (from padding ", padding, ", stride ", stride,
              ") has more elements than int64 can count");
  return Conv2dArgs{input.size(0), out_channels, groups, g};
}

// An optional bias: 1-D with one value per output channel, like the input (device and dtype).
inline void check_conv2d_bias(const char* op, const at::Tensor& bias, const at::Tensor& input,
                              const Conv2dArgs& s) {
  check_float_on(op, "bias", bias, "input", input);
  check_same_dtype(op, "input", input, "bias", bias);
  TORCH_CHECK(bias.dim() == 1 && bias.size(0) == s.out_channels, op,
              ": expected bias of shape [", s.out_channels, "] but got ", bias.sizes());
}

// grad_output of conv2d_backward: like the input, of the forward output's shape.
inline void check_conv2d_grad_output(const char* op, const at::Tensor& grad_output,
                                     const at::Tensor& input, const Conv2dArgs& s) {
  check_float(op, "grad_output", grad_output);
  check_same_device(op, "grad_output", grad_output, "input", input);
  check_same_dtype(op, "grad_output", grad_output, "input", input);
  const std::array<int64_t, 4> out_shape = s.out_shape();
  TORCH_CHECK(grad_output.sizes() == at::IntArrayRef(out_shape), op,
              ": expected grad_output of shape ", at::IntArrayRef(out_shape), " but got ",
              grad_output.sizes());
}

}  // namespace torchext
