// dropout, stochastic_depth and dropout_backward (CPU and CUDA host code): argument checks and
// the layout the kernels read, in which the mask's groups are consecutive runs of `inner` values.
#pragma once
#include <ATen/ATen.h>

#include <vector>

#include "common.h"

namespace torchext {

inline void check_dropout_p(const char* op, double p) {
  TORCH_CHECK(p >= 0.0 && p <= 1.0, op, ": dropout probability has to be between 0 and 1, but got ", p);
}

inline void check_rng_state(const char* op, const at::Tensor& state, int64_t bytes, const char* source) {
  TORCH_CHECK(state.defined() && state.device().is_cpu() && state.scalar_type() == at::kByte &&
                  state.dim() == 1 && state.numel() == bytes,
              op, ": expected rng_state to be a 1-D CPU uint8 tensor of ", bytes, " bytes (as ",
              source, " returns) but got ", state.defined() ? state.toString() : "None", " of shape ",
              state.defined() ? state.sizes() : at::IntArrayRef{});
}

// The tensor whose memory order the draws follow, as native's empty_like(input) noise: input
// itself when dense, else a copy in input's suggested memory format.
inline at::Tensor dense_like_native(const at::Tensor& input) {
  return input.is_non_overlapping_and_dense() ? input : input.contiguous(input.suggest_memory_format());
}

// For per-sample groups: dense with each sample's values one contiguous run (batch dim outermost).
inline at::Tensor batch_outermost(const at::Tensor& t) {
  const bool ok = t.is_non_overlapping_and_dense() &&
                  (t.size(0) <= 1 || t.stride(0) * t.size(0) == t.numel());
  return ok ? t : t.contiguous();
}

// stochastic_depth's noise shape, as torchvision's: (N, 1, ..., 1) per row, (1, ..., 1) per batch.
inline std::vector<int64_t> stochastic_depth_noise_shape(const at::Tensor& input, bool row) {
  std::vector<int64_t> shape(input.dim(), 1);
  if (row) shape[0] = input.size(0);
  return shape;
}

// The mask dropout_backward gets: uint8, on grad_output's device, either grad_output's shape
// (dropout) or a noise shape of stochastic_depth's.
inline bool check_dropout_mask(const char* op, const at::Tensor& grad_output, const at::Tensor& mask) {
  check_same_device(op, "grad_output", grad_output, "mask", mask);
  TORCH_CHECK(mask.scalar_type() == at::kByte, op, ": expected mask to be uint8 but got ",
              mask.scalar_type());
  if (mask.sizes() == grad_output.sizes()) return true;
  bool noise = grad_output.dim() >= 1 && mask.dim() == grad_output.dim() &&
               (mask.size(0) == 1 || mask.size(0) == grad_output.size(0));
  for (int64_t d = 1; noise && d < mask.dim(); ++d) noise = mask.size(d) == 1;
  TORCH_CHECK(noise, op, ": expected mask of shape ", grad_output.sizes(),
              " (grad_output's) or a per-sample noise shape, but got ", mask.sizes());
  return false;
}

}  // namespace torchext
