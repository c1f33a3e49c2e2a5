// Argument checks for layer_norm and layer_norm_backward, shared by the CPU and CUDA host code.
// Only checks, plus the row split the kernels use.
#pragma once
#include <ATen/ATen.h>

#include <optional>
#include <utility>
#include <vector>

#include "common.h"

namespace torchext {

// The input as M rows of N values: N the product of the normalized (trailing) dims.
struct LayerNormRows {
  int64_t M, N;
};

// normalized_shape: 1-D or more, matching input's trailing dims; weight/bias (if given) of that
// shape, input's dtype and device.
inline LayerNormRows check_layer_norm_args(const char* op, const at::Tensor& input,
                                           at::IntArrayRef normalized_shape,
                                           const std::optional<at::Tensor>& weight,
                                           const std::optional<at::Tensor>& bias) {
  check_float(op, "input", input);
  const int64_t k = static_cast<int64_t>(normalized_shape.size());
  TORCH_CHECK(k >= 1, op, ": expected normalized_shape to have at least 1 dimension but got ",
              normalized_shape);
  TORCH_CHECK(input.dim() >= k && input.sizes().slice(input.dim() - k).equals(normalized_shape),
              op, ": expected input's trailing dimensions to be normalized_shape ",
              normalized_shape, " but got input of shape ", input.sizes());
  for (const auto& [arg, t] : {std::pair{"weight", weight}, std::pair{"bias", bias}}) {
    if (!t.has_value() || !t->defined()) continue;
    check_float(op, arg, *t);
    check_same_device(op, "input", input, arg, *t);
    check_same_dtype(op, "input", input, arg, *t);
    TORCH_CHECK(t->sizes().equals(normalized_shape), op, ": expected ", arg,
                " of shape normalized_shape ", normalized_shape, " but got ", t->sizes());
  }
  int64_t N = 1;
  for (int64_t s : normalized_shape) N *= s;
  const int64_t lead = input.dim() - k;
  int64_t M = 1;
  for (int64_t d = 0; d < lead; ++d) M *= input.size(d);
  return {M, N};
}

// The backward's saved statistics: M values each (any shape), of `dtype`, on input's device.
inline void check_layer_norm_stat(const char* op, const char* arg, const at::Tensor& t,
                                  const at::Tensor& input, int64_t M, at::ScalarType dtype) {
  check_float(op, arg, t);
  check_same_device(op, "input", input, arg, t);
  TORCH_CHECK(t.scalar_type() == dtype, op, ": expected ", arg, " of dtype ", dtype, " but got ",
              t.scalar_type());
  TORCH_CHECK(t.numel() == M, op, ": expected ", arg, " with ", M,
              " elements (one per normalized row of input) but got shape ", t.sizes());
}

inline void check_layer_norm_grad(const char* op, const at::Tensor& grad_output, const at::Tensor& input) {
  check_float(op, "grad_output", grad_output);
  check_same_device(op, "input", input, "grad_output", grad_output);
  check_same_dtype(op, "input", input, "grad_output", grad_output);
  TORCH_CHECK(grad_output.sizes() == input.sizes(), op, ": expected grad_output of shape ",
              input.sizes(), " (the input's) but got ", grad_output.sizes());
}

// CUDA's statistics dtype (the accumulate type): double for a double input, float otherwise.
inline at::ScalarType layer_norm_acc_dtype(const at::Tensor& input) {
  return input.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}

// The statistics' shape: input's leading dims, then a 1 per normalized dim (as native's).
inline std::vector<int64_t> layer_norm_stat_shape(const at::Tensor& input, int64_t normalized_dims) {
  std::vector<int64_t> shape(input.sizes().begin(), input.sizes().end());
  for (int64_t d = input.dim() - normalized_dims; d < input.dim(); ++d) shape[d] = 1;
  return shape;
}

}  // namespace torchext
