// Argument checks for batch_norm and batch_norm_backward (inputs of any rank >= 2, channels in
// dim 1), shared by the CPU and CUDA host code. Only checks.
#pragma once
#include <ATen/ATen.h>

#include <optional>

#include "common.h"

namespace torchext {

inline bool given(const std::optional<at::Tensor>& t) { return t.has_value() && t->defined(); }

// The dtype batch-norm statistics are computed in: double for a double input, float otherwise.
inline at::ScalarType batch_norm_acc_dtype(const at::Tensor& input) {
  return input.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}

// Which dtypes a per-channel tensor (weight, bias, running or saved statistic) may have: a
// backend choice. The CPU computes in the input's dtype; CUDA takes mixed precision as native
// (a half/bfloat16 input with float parameters and statistics).
enum class ChannelParamDtype {
  kSameAsInput,       // exactly the input's dtype
  kInputOrAccumulate  // the input's or batch_norm_acc_dtype(input)
};

// A per-channel tensor: 1-D with C elements, on the input's device, of a dtype `dtypes` allows.
inline void check_channel_param(const char* op, const char* arg, const at::Tensor& t,
                                const at::Tensor& input, ChannelParamDtype dtypes) {
  check_float(op, arg, t);
  check_same_device(op, "input", input, arg, t);
  if (dtypes == ChannelParamDtype::kSameAsInput) {
    check_same_dtype(op, "input", input, arg, t);
  } else {
    const at::ScalarType acc = batch_norm_acc_dtype(input);
    TORCH_CHECK(t.scalar_type() == input.scalar_type() || t.scalar_type() == acc, op,
                ": expected ", arg, " to have dtype ", input.scalar_type(),
                input.scalar_type() == acc ? "" : " or float32", " (input's) but got ",
                t.scalar_type());
  }
  TORCH_CHECK(t.dim() == 1 && t.size(0) == input.size(1), op, ": expected ", arg,
              " to be 1-D with ", input.size(1), " elements (one per channel of input of shape ",
              input.sizes(), ") but got shape ", t.sizes());
}

inline void check_batch_norm_input(const char* op, const at::Tensor& input) {
  check_float(op, "input", input);
  TORCH_CHECK(input.dim() >= 2, op, ": expected input to have at least 2 dims (N, C, ...) but got a ",
              input.dim(), "-D tensor of shape ", input.sizes());
}

inline void check_running_stats_given(const char* op, bool given_stats) {
  TORCH_CHECK(given_stats, op,
              ": running_mean and running_var must be given in evaluation mode (training=False)");
}

// The arguments of batch_norm (forward).
inline void check_batch_norm_args(const char* op, const at::Tensor& input,
                                  const std::optional<at::Tensor>& weight,
                                  const std::optional<at::Tensor>& bias,
                                  const std::optional<at::Tensor>& running_mean,
                                  const std::optional<at::Tensor>& running_var, bool training,
                                  ChannelParamDtype dtypes) {
  check_batch_norm_input(op, input);
  if (given(weight)) check_channel_param(op, "weight", *weight, input, dtypes);
  if (given(bias)) check_channel_param(op, "bias", *bias, input, dtypes);
  if (given(running_mean)) check_channel_param(op, "running_mean", *running_mean, input, dtypes);
  if (given(running_var)) check_channel_param(op, "running_var", *running_var, input, dtypes);
  TORCH_CHECK(given(running_mean) == given(running_var), op,
              ": expected running_mean and running_var to be both given or both None");
  if (!training) check_running_stats_given(op, given(running_mean));
}

// Training normalises over the n values of each channel: one value has no variance.
inline void check_batch_norm_training_size(const char* op, const at::Tensor& input,
                                           int64_t per_channel) {
  TORCH_CHECK_VALUE(per_channel != 1, op,
                    ": Expected more than 1 value per channel when training, got input size ",
                    input.sizes());
}

// The arguments of batch_norm_backward: the saved batch statistics in training, the running
// ones in evaluation.
inline void check_batch_norm_backward_args(const char* op, const at::Tensor& grad_output,
                                           const at::Tensor& input,
                                           const std::optional<at::Tensor>& weight,
                                           const std::optional<at::Tensor>& running_mean,
                                           const std::optional<at::Tensor>& running_var,
                                           const at::Tensor& save_mean,
                                           const at::Tensor& save_invstd, bool training,
                                           ChannelParamDtype dtypes) {
  check_batch_norm_input(op, input);
  check_float(op, "grad_output", grad_output);
  check_same_device(op, "input", input, "grad_output", grad_output);
  check_same_dtype(op, "input", input, "grad_output", grad_output);
  TORCH_CHECK(grad_output.sizes() == input.sizes(), op, ": expected grad_output of shape ",
              input.sizes(), " (the input's) but got ", grad_output.sizes());
  if (given(weight)) check_channel_param(op, "weight", *weight, input, dtypes);
  if (training) {
    check_channel_param(op, "save_mean", save_mean, input, dtypes);
    check_channel_param(op, "save_invstd", save_invstd, input, dtypes);
  } else {
    check_running_stats_given(op, given(running_mean) && given(running_var));
    check_channel_param(op, "running_mean", *running_mean, input, dtypes);
    check_channel_param(op, "running_var", *running_var, input, dtypes);
  }
}

// A tensor batch_norm_relu pairs elementwise with the input (the residual it adds before the relu,
// the forward output its backward masks grad_output by): the input's shape, dtype and device.
inline void check_like_input(const char* op, const char* arg, const at::Tensor& input, const at::Tensor& t) {
  check_float(op, arg, t);
  check_same_device(op, "input", input, arg, t);
  check_same_dtype(op, "input", input, arg, t);
  TORCH_CHECK(t.sizes() == input.sizes(), op, ": expected ", arg, " of shape ", input.sizes(),
              " (the input's) but got ", t.sizes());
}

}  // namespace torchext
