// Argument checks and shapes for linear and linear_backward (y = x @ W^T + b over any leading
// dimensions), shared by the CPU and CUDA host code. Only checks and size arithmetic.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

#include "common.h"

namespace torchext {

// The sizes of one linear: M rows (the input's leading dims flattened), K in, N out features.
struct LinearArgs {
  int64_t M, K, N;
};

// Validates input and weight (shared by forward and backward) and derives the GEMM sizes.
inline LinearArgs linear_args(const char* op, const at::Tensor& input, const at::Tensor& weight) {
  check_float(op, "input", input);
  check_float_on(op, "weight", weight, "input", input);
  check_same_dtype(op, "input", input, "weight", weight);
  TORCH_CHECK(input.dim() >= 1, op, ": expected input to have at least 1 dimension but got a 0-D tensor");
  check_dim(op, "weight", weight, 2);
  TORCH_CHECK(input.size(-1) == weight.size(1), op, ": expected input's last dimension (",
              input.size(-1), ") to equal weight's in_features (", weight.size(1),
              "), but input has shape ", input.sizes(), " and weight has shape ", weight.sizes());
  int64_t rows = 1;  // the product of the leading dimensions
  for (int64_t d = 0; d + 1 < input.dim(); ++d) rows *= input.size(d);
  return LinearArgs{rows, weight.size(1), weight.size(0)};
}

// The output's shape: the input's with the last dimension replaced by out_features.
inline std::vector<int64_t> linear_output_shape(const at::Tensor& input, int64_t out_features) {
  std::vector<int64_t> shape(input.sizes().begin(), input.sizes().end());
  shape.back() = out_features;
  return shape;
}

// An optional bias: 1-D with out_features values, like the input (device and dtype).
inline void check_linear_bias(const char* op, const at::Tensor& bias, const at::Tensor& input,
                              const LinearArgs& s) {
  check_float_on(op, "bias", bias, "input", input);
  check_same_dtype(op, "input", input, "bias", bias);
  TORCH_CHECK(bias.dim() == 1 && bias.size(0) == s.N, op, ": expected bias of shape [", s.N,
              "] (weight's out_features) but got ", bias.sizes());
}

// grad_output of linear_backward: like the input, of the forward output's shape.
inline void check_linear_grad_output(const char* op, const at::Tensor& grad_output,
                                     const at::Tensor& input, const LinearArgs& s) {
  check_float(op, "grad_output", grad_output);
  check_same_device(op, "grad_output", grad_output, "input", input);
  check_same_dtype(op, "grad_output", grad_output, "input", input);
  const auto expected = linear_output_shape(input, s.N);
  TORCH_CHECK(grad_output.sizes() == at::IntArrayRef(expected), op,
              ": expected grad_output of shape ", at::IntArrayRef(expected), " but got ",
              grad_output.sizes());
}

}  // namespace torchext
