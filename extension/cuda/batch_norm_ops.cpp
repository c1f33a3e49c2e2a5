// Batch normalisation (and the fused relu(batch_norm(x) + residual)) forward and backward (CUDA
// host side) for inputs of any rank >= 2, channels
// in dim 1, contiguous or channels-last (the output keeps a channels-last input's layout).
//
// Mixed precision as native: a half/bfloat16 input may come with float weight, bias and running
// statistics; the statistics are computed in float and save_mean/save_invstd are float for such
// inputs (the input's dtype otherwise).
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <optional>
#include <tuple>

#include "../batch_norm_args.h"
#include "batch_norm.h"
#include "host_utils.h"

namespace torchext::cuda {
namespace {

using Tensors3 = std::tuple<at::Tensor, at::Tensor, at::Tensor>;
using Tensors4 = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor>;

// Per-channel tensors may be float for a half/bfloat16 input (batch_norm_args.h).
constexpr ChannelParamDtype kParamDtype = ChannelParamDtype::kInputOrAccumulate;

// The layout the kernels read `t` in: channels-last when t is a channels-last 4-D tensor (and
// not also plain contiguous), otherwise contiguous.
at::MemoryFormat layout_format(const at::Tensor& t) {
  return t.dim() == 4 && !t.is_contiguous() && t.is_contiguous(at::MemoryFormat::ChannelsLast)
             ? at::MemoryFormat::ChannelsLast
             : at::MemoryFormat::Contiguous;
}

ChannelShape channel_shape(const at::Tensor& t, at::MemoryFormat format) {
  if (format == at::MemoryFormat::ChannelsLast)
    return {t.size(0) * t.size(2) * t.size(3), t.size(1), 1};
  int64_t inner = 1;
  for (int64_t d = 2; d < t.dim(); ++d) inner *= t.size(d);
  return {t.size(0), t.size(1), inner};
}

// t in the accumulate dtype, contiguous (t itself when it already is), or undefined.
at::Tensor as_acc(const std::optional<at::Tensor>& t, at::ScalarType acc) {
  if (!given(t)) return at::Tensor();
  return t->to(acc).contiguous();
}

// 1 / sqrt(running_var + eps) per channel, in the accumulate dtype of acc_options (evaluation
// mode normalises with the running statistics).
at::Tensor running_invstd(const std::optional<at::Tensor>& running_var, int64_t C, double eps,
                          const at::TensorOptions& acc_options) {
  const auto acc = acc_options.dtype().toScalarType();
  const auto var = as_acc(running_var, acc);
  auto invstd = at::empty({C}, acc_options);
  AT_DISPATCH_FLOATING_TYPES(acc, "torchext_batch_norm_invstd", [&] {
    invstd_from_var_launch(var.const_data_ptr<scalar_t>(), C, eps, invstd.data_ptr<scalar_t>());
  });
  return invstd;
}

template <typename A>
A* ptr_or_null(const at::Tensor& t) {
  return t.defined() ? t.data_ptr<A>() : nullptr;
}

// batch_norm, and with `relu` the fused relu(batch_norm(input) + residual) (residual optional).
Tensors3 batch_norm_impl(const char* op, const at::Tensor& input,
                         const std::optional<at::Tensor>& residual,
                         const std::optional<at::Tensor>& weight,
                         const std::optional<at::Tensor>& bias,
                         const std::optional<at::Tensor>& running_mean,
                         const std::optional<at::Tensor>& running_var, bool training,
                         double momentum, double eps, bool relu) {
  check_batch_norm_args(op, input, weight, bias, running_mean, running_var, training, kParamDtype);
  if (given(residual)) check_like_input(op, "residual", input, *residual);
  c10::cuda::CUDAGuard guard(input.device());
  const auto format = layout_format(input);
  const auto x = input.contiguous(format);
  const ChannelShape s = channel_shape(x, format);
  const int64_t C = s.channels, n = s.per_channel();
  const auto acc = batch_norm_acc_dtype(input);
  const auto acc_options = x.options().dtype(acc);
  const auto w = as_acc(weight, acc), b = as_acc(bias, acc);

  at::Tensor mean, invstd, save_mean, save_invstd;
  if (training) {
    check_batch_norm_training_size(op, input, n);
    mean = at::empty({C}, acc_options);
    invstd = at::empty({C}, acc_options);
    if (n == 0) {  // nothing to normalise; no running update
      mean.zero_();
      invstd.zero_();
    } else {
      auto rm = as_acc(running_mean, acc), rv = as_acc(running_var, acc);
      AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "torchext_batch_norm_stats", [&] {
        using A = acc_t<scalar_t>;
        batch_norm_stats_launch(x.const_data_ptr<scalar_t>(), s, eps, momentum, mean.data_ptr<A>(),
                                invstd.data_ptr<A>(), ptr_or_null<A>(rm), ptr_or_null<A>(rv));
      });
      // Running statistics of another dtype or layout were updated in a copy.
      if (rm.defined() && !rm.is_same(*running_mean)) running_mean->copy_(rm);
      if (rv.defined() && !rv.is_same(*running_var)) running_var->copy_(rv);
    }
    save_mean = mean;
    save_invstd = invstd;
  } else {
    mean = as_acc(running_mean, acc);
    invstd = running_invstd(running_var, C, eps, acc_options);
    save_mean = at::empty({0}, acc_options);
    save_invstd = at::empty({0}, acc_options);
  }
  auto y = at::empty_like(x, x.options(), format);
  const auto r = given(residual) ? residual->contiguous(format) : at::Tensor();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "torchext_batch_norm", [&] {
    using A = acc_t<scalar_t>;
    batch_norm_apply_launch(x.const_data_ptr<scalar_t>(), s, mean.const_data_ptr<A>(),
                            invstd.const_data_ptr<A>(), ptr_or_null<A>(w), ptr_or_null<A>(b),
                            r.defined() ? r.const_data_ptr<scalar_t>() : nullptr, relu,
                            y.mutable_data_ptr<scalar_t>());
  });
  return {y, save_mean, save_invstd};
}

Tensors3 batch_norm_cuda(const at::Tensor& input, const std::optional<at::Tensor>& weight,
                         const std::optional<at::Tensor>& bias,
                         const std::optional<at::Tensor>& running_mean,
                         const std::optional<at::Tensor>& running_var, bool training,
                         double momentum, double eps) {
  return batch_norm_impl("torchext.batch_norm", input, std::nullopt, weight, bias, running_mean,
                         running_var, training, momentum, eps, /*relu=*/false);
}

Tensors3 batch_norm_relu_cuda(const at::Tensor& input, const std::optional<at::Tensor>& residual,
                              const std::optional<at::Tensor>& weight,
                              const std::optional<at::Tensor>& bias,
                              const std::optional<at::Tensor>& running_mean,
                              const std::optional<at::Tensor>& running_var, bool training,
                              double momentum, double eps) {
  return batch_norm_impl("torchext.batch_norm_relu", input, residual, weight, bias, running_mean,
                         running_var, training, momentum, eps, /*relu=*/true);
}

// Gradients of y = (x - mean) * invstd * w + b (formulas in batch_norm.h): training uses the
// saved batch statistics, evaluation the running ones. dweight = sum(dy * xhat), dbias = sum(dy).
// With relu_out (the fused op's output), dy is first masked by relu's backward; that masked dy is
// also the residual's gradient. Returns (grad_input, masked dy, grad_weight, grad_bias).
Tensors4 batch_norm_backward_impl(const char* op, const at::Tensor& grad_output,
                                  const at::Tensor& relu_out, const at::Tensor& input,
                                  const std::optional<at::Tensor>& weight,
                                  const std::optional<at::Tensor>& running_mean,
                                  const std::optional<at::Tensor>& running_var,
                                  const at::Tensor& save_mean, const at::Tensor& save_invstd,
                                  bool training, double eps, std::array<bool, 3> output_mask) {
  check_batch_norm_backward_args(op, grad_output, input, weight, running_mean, running_var,
                                 save_mean, save_invstd, training, kParamDtype);
  const bool fused = relu_out.defined();
  if (fused) check_like_input(op, "output", input, relu_out);
  c10::cuda::CUDAGuard guard(input.device());
  const auto format = layout_format(input);
  const auto x = input.contiguous(format);
  auto dy = grad_output.contiguous(format);
  const auto y = fused ? relu_out.contiguous(format) : at::Tensor();
  const auto masked = fused ? at::empty_like(x, x.options(), format) : at::Tensor();
  const ChannelShape s = channel_shape(x, format);
  const int64_t C = s.channels;
  const auto acc = batch_norm_acc_dtype(input);
  const auto acc_options = x.options().dtype(acc);
  const auto w = as_acc(weight, acc);
  at::Tensor mean, invstd;
  if (training) {
    mean = save_mean.to(acc).contiguous();
    invstd = save_invstd.to(acc).contiguous();
  } else {
    mean = as_acc(running_mean, acc);
    invstd = running_invstd(running_var, C, eps, acc_options);
  }
  at::Tensor sum_dy, sum_dy_xmu, dweight;
  if (fused || output_mask[1] || output_mask[2] || (training && output_mask[0])) {
    sum_dy = at::empty({C}, acc_options);
    sum_dy_xmu = at::empty({C}, acc_options);
    dweight = at::empty({C}, acc_options);
  }
  at::Tensor grad_input;
  if (output_mask[0]) grad_input = at::empty_like(x, x.options(), format);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "torchext_batch_norm_backward", [&] {
    using A = acc_t<scalar_t>;
    if (sum_dy.defined()) {
      batch_norm_grad_sums_launch(dy.const_data_ptr<scalar_t>(), x.const_data_ptr<scalar_t>(), s,
                                  mean.const_data_ptr<A>(), invstd.const_data_ptr<A>(),
                                  fused ? y.const_data_ptr<scalar_t>() : nullptr,
                                  fused ? masked.mutable_data_ptr<scalar_t>() : nullptr,
                                  sum_dy.data_ptr<A>(), sum_dy_xmu.data_ptr<A>(), dweight.data_ptr<A>());
      if (fused) dy = masked;
    }
    if (grad_input.defined()) {
      batch_norm_input_grad_launch(dy.const_data_ptr<scalar_t>(), x.const_data_ptr<scalar_t>(), s,
                                   mean.const_data_ptr<A>(), invstd.const_data_ptr<A>(),
                                   ptr_or_null<A>(w), training ? sum_dy.const_data_ptr<A>() : nullptr,
                                   training ? sum_dy_xmu.const_data_ptr<A>() : nullptr,
                                   grad_input.mutable_data_ptr<scalar_t>());
    }
  });
  // Parameter gradients take the parameters' dtype (the input's when there is no weight).
  const auto param_dtype = given(weight) ? weight->scalar_type() : input.scalar_type();
  at::Tensor grad_weight, grad_bias;
  if (output_mask[1]) grad_weight = dweight.to(param_dtype);
  if (output_mask[2]) grad_bias = sum_dy.to(param_dtype);
  return {grad_input, masked, grad_weight, grad_bias};
}

Tensors3 batch_norm_backward_cuda(const at::Tensor& grad_output, const at::Tensor& input,
                                  const std::optional<at::Tensor>& weight,
                                  const std::optional<at::Tensor>& running_mean,
                                  const std::optional<at::Tensor>& running_var,
                                  const at::Tensor& save_mean, const at::Tensor& save_invstd,
                                  bool training, double eps, std::array<bool, 3> output_mask) {
  auto [grad_input, masked, grad_weight, grad_bias] = batch_norm_backward_impl(
      "torchext.batch_norm_backward", grad_output, at::Tensor(), input, weight, running_mean,
      running_var, save_mean, save_invstd, training, eps, output_mask);
  return {grad_input, grad_weight, grad_bias};
}

// output_mask: input, residual, weight, bias. The residual's gradient is the masked grad_output.
Tensors4 batch_norm_relu_backward_cuda(const at::Tensor& grad_output, const at::Tensor& output,
                                       const at::Tensor& input,
                                       const std::optional<at::Tensor>& weight,
                                       const std::optional<at::Tensor>& running_mean,
                                       const std::optional<at::Tensor>& running_var,
                                       const at::Tensor& save_mean, const at::Tensor& save_invstd,
                                       bool training, double eps, std::array<bool, 4> output_mask) {
  auto [grad_input, masked, grad_weight, grad_bias] = batch_norm_backward_impl(
      "torchext.batch_norm_relu_backward", grad_output, output, input, weight, running_mean,
      running_var, save_mean, save_invstd, training, eps,
      {output_mask[0], output_mask[2], output_mask[3]});
  return {grad_input, output_mask[1] ? masked : at::Tensor(), grad_weight, grad_bias};
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CUDA, m) {
  m.impl("batch_norm", &batch_norm_cuda);
  m.impl("batch_norm_backward", &batch_norm_backward_cuda);
  m.impl("batch_norm_relu", &batch_norm_relu_cuda);
  m.impl("batch_norm_relu_backward", &batch_norm_relu_backward_cuda);
}

}  // namespace torchext::cuda
