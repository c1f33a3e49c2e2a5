// Argument checks and output sizes for max_pool2d, avg_pool2d, adaptive_avg_pool2d and their backwards,
// shared by the CPU and CUDA host code (inputs (N, C, H, W) or unbatched (C, H, W)). Only checks
// and size arithmetic; window arithmetic that could overflow int64 raises instead.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <optional>
#include <vector>

#include "common.h"
#include "geometry.h"

namespace torchext {

namespace pooling_detail {

inline int64_t floor_div(int64_t a, int64_t b) {
  return a / b - ((a % b != 0) && ((a < 0) != (b < 0)));
}

// Output length along one dim: floor (or ceil) of (in + 2p - d(k-1) - 1) / s, plus one; in ceil
// mode the last window must still start inside the input or the left padding.
inline int64_t pooled_size(const char* op, int64_t in, int64_t k, int64_t s, int64_t p, int64_t d,
                           bool ceil_mode) {
  int64_t span, padded;
  const bool overflow = __builtin_mul_overflow(d, k - 1, &span) || __builtin_mul_overflow(p, 2, &padded) ||
                        __builtin_add_overflow(padded, in, &padded) ||
                        __builtin_add_overflow(padded, ceil_mode ? s - 1 : 0, &padded);
  TORCH_CHECK(!overflow, op, ": kernel_size ", k, ", dilation ", d, ", padding ", p, " or stride ", s,
              " too large: the pooling window arithmetic overflows int64");
  int64_t out = floor_div(padded - span - 1, s) + 1;
  if (ceil_mode && (out - 1) * s >= in + p) --out;
  return out;
}

inline void check_pair(const char* op, const char* arg, at::IntArrayRef v) {
  TORCH_CHECK(v.size() == 2, op, ": expected ", arg, " to have 2 elements but got ", v);
}

}  // namespace pooling_detail

// A pooling operand (self or grad_output): floating, 3-D or 4-D.
inline void check_pool_operand(const char* op, const char* arg, const at::Tensor& t) {
  check_float(op, arg, t);
  TORCH_CHECK(t.dim() == 3 || t.dim() == 4, op, ": expected ", arg,
              " to be 3-D (C, H, W) or 4-D (N, C, H, W) but got a ", t.dim(),
              "-D tensor of shape ", t.sizes());
}

// The pooled input: a pooling operand with non-empty channel and spatial dims.
inline void check_pool_self(const char* op, const at::Tensor& self) {
  check_pool_operand(op, "self", self);
  for (int64_t d = self.dim() - 3; d < self.dim(); ++d)
    TORCH_CHECK(self.size(d) > 0, op,
                ": expected self to have non-zero channel and spatial sizes but got shape ",
                self.sizes());
}

// grad_output of a pooling backward: like self (device, dtype) in every dim but the last two.
inline void check_pool_grad_output(const char* op, const at::Tensor& grad_output,
                                   const at::Tensor& self) {
  check_pool_operand(op, "grad_output", grad_output);
  check_same_device(op, "self", self, "grad_output", grad_output);
  check_same_dtype(op, "self", self, "grad_output", grad_output);
  TORCH_CHECK(grad_output.dim() == self.dim() &&
                  grad_output.sizes().slice(0, self.dim() - 2) == self.sizes().slice(0, self.dim() - 2),
              op, ": expected grad_output to have self's leading (batch, channel) sizes ",
              self.sizes().slice(0, self.dim() - 2), " but got shape ", grad_output.sizes());
}

// self's shape with the last two dims replaced by OH x OW.
inline std::vector<int64_t> pooled_shape(const at::Tensor& self, int64_t OH, int64_t OW) {
  auto shape = self.sizes().vec();
  shape[self.dim() - 2] = OH;
  shape[self.dim() - 1] = OW;
  return shape;
}

// ---------------------------------------------------------------------------- max_pool2d

// Validates self and the pooling parameters and derives the window geometry.
inline PoolGeometry max_pool2d_args(const char* op, const at::Tensor& self, at::IntArrayRef kernel,
                                    at::IntArrayRef stride, at::IntArrayRef padding,
                                    at::IntArrayRef dilation, bool ceil_mode) {
  check_pool_self(op, self);
  pooling_detail::check_pair(op, "kernel_size", kernel);
  pooling_detail::check_pair(op, "stride", stride);
  pooling_detail::check_pair(op, "padding", padding);
  pooling_detail::check_pair(op, "dilation", dilation);
  TORCH_CHECK(kernel[0] > 0 && kernel[1] > 0, op, ": expected kernel_size to be positive but got ",
              kernel);
  TORCH_CHECK(stride[0] > 0 && stride[1] > 0, op, ": expected stride to be positive but got ", stride);
  TORCH_CHECK(dilation[0] > 0 && dilation[1] > 0, op, ": expected dilation to be positive but got ",
              dilation);
  TORCH_CHECK(padding[0] >= 0 && padding[1] >= 0, op, ": expected padding to be non-negative but got ",
              padding);
  TORCH_CHECK(padding[0] <= kernel[0] / 2 && padding[1] <= kernel[1] / 2, op,
              ": pad should be at most half of kernel size, but got padding ", padding,
              " for kernel_size ", kernel);
  PoolGeometry g{kernel[0], kernel[1], stride[0], stride[1], padding[0], padding[1], dilation[0],
                 dilation[1], self.size(-2), self.size(-1), 0, 0};
  g.OH = pooling_detail::pooled_size(op, g.H, g.kh, g.sh, g.ph, g.dh, ceil_mode);
  g.OW = pooling_detail::pooled_size(op, g.W, g.kw, g.sw, g.pw, g.dw, ceil_mode);
  TORCH_CHECK(g.OH >= 1 && g.OW >= 1, op, ": output size is too small: input of spatial size (", g.H,
              ", ", g.W, ") pooled with kernel_size ", kernel, ", stride ", stride, ", padding ",
              padding, " and dilation ", dilation, " gives (", g.OH, ", ", g.OW, ")");
  return g;
}

// The arguments of max_pool2d_backward: grad_output as for any pooling backward, indices int64
// of grad_output's shape. (The index values are checked by the kernels, which read them.)
inline void check_max_pool2d_backward_args(const char* op, const at::Tensor& grad_output,
                                           const at::Tensor& self, const at::Tensor& indices) {
  check_pool_self(op, self);
  check_pool_grad_output(op, grad_output, self);
  check_same_device(op, "self", self, "indices", indices);
  TORCH_CHECK(indices.scalar_type() == at::kLong, op, ": expected indices to be int64 but got ",
              indices.scalar_type());
  TORCH_CHECK(grad_output.sizes() == indices.sizes(), op,
              ": expected grad_output and indices of the same shape but got ", grad_output.sizes(),
              " and ", indices.sizes());
}

// The arguments of max_pool2d_double_backward: grad_grad_input a pooling operand (the input's
// shape), indices int64 with its leading (batch, channel) sizes. (Index values: the kernels.)
inline void check_max_pool2d_double_backward_args(const char* op, const at::Tensor& grad_grad_input,
                                                  const at::Tensor& indices) {
  check_pool_operand(op, "grad_grad_input", grad_grad_input);
  check_same_device(op, "grad_grad_input", grad_grad_input, "indices", indices);
  TORCH_CHECK(indices.scalar_type() == at::kLong, op, ": expected indices to be int64 but got ",
              indices.scalar_type());
  const int64_t lead = grad_grad_input.dim() - 2;
  TORCH_CHECK(indices.dim() == grad_grad_input.dim() &&
                  indices.sizes().slice(0, lead) == grad_grad_input.sizes().slice(0, lead),
              op, ": expected indices to have grad_grad_input's leading (batch, channel) sizes ",
              grad_grad_input.sizes().slice(0, lead), " but got shape ", indices.sizes());
}

// ---------------------------------------------------------------------------- avg_pool2d

// Validates self and the pooling parameters (as max_pool2d's, without dilation) and derives the
// window geometry; divisor_override must not be 0.
inline PoolGeometry avg_pool2d_args(const char* op, const at::Tensor& self, at::IntArrayRef kernel,
                                    at::IntArrayRef stride, at::IntArrayRef padding, bool ceil_mode,
                                    std::optional<int64_t> divisor_override) {
  TORCH_CHECK(!divisor_override.has_value() || *divisor_override != 0, op,
              ": expected divisor_override to be non-zero");
  const int64_t one[2] = {1, 1};
  return max_pool2d_args(op, self, kernel, stride, padding, one, ceil_mode);
}

// The arguments of avg_pool2d_backward: self and the parameters as the forward's, grad_output of
// the forward's output shape.
inline PoolGeometry avg_pool2d_backward_args(const char* op, const at::Tensor& grad_output,
                                             const at::Tensor& self, at::IntArrayRef kernel,
                                             at::IntArrayRef stride, at::IntArrayRef padding,
                                             bool ceil_mode, std::optional<int64_t> divisor_override) {
  const PoolGeometry g = avg_pool2d_args(op, self, kernel, stride, padding, ceil_mode, divisor_override);
  check_pool_grad_output(op, grad_output, self);
  TORCH_CHECK(grad_output.size(-2) == g.OH && grad_output.size(-1) == g.OW, op,
              ": expected grad_output of the pooled shape ", pooled_shape(self, g.OH, g.OW), " but got ",
              grad_output.sizes());
  return g;
}

// ------------------------------------------------------------------- adaptive_avg_pool2d

// Validates self and output_size; returns the output's shape.
inline std::vector<int64_t> adaptive_avg_pool2d_args(const char* op, const at::Tensor& self,
                                                     at::IntArrayRef output_size) {
  check_pool_self(op, self);
  TORCH_CHECK(output_size.size() == 2, op, ": expected output_size to have 2 elements but got ",
              output_size);
  TORCH_CHECK(output_size[0] >= 0 && output_size[1] >= 0, op,
              ": expected output_size to be non-negative but got ", output_size);
  const int64_t H = self.size(-2), W = self.size(-1), OH = output_size[0], OW = output_size[1];
  int64_t numel;
  TORCH_CHECK(!__builtin_mul_overflow(self.numel() / (H * W), OH, &numel) &&
                  !__builtin_mul_overflow(numel, OW, &numel),
              op, ": output_size ", output_size, " too large: the output has more elements than int64 can count");
  return pooled_shape(self, OH, OW);
}

inline void check_adaptive_avg_pool2d_backward_args(const char* op, const at::Tensor& grad_output,
                                                    const at::Tensor& self) {
  check_pool_self(op, self);
  check_pool_grad_output(op, grad_output, self);
}

}  // namespace torchext
