// Batch normalisation (and the fused relu(batch_norm(x) + residual)) forward and backward (CPU) for inputs of any rank >= 2, channels in dim 1,
// contiguous or channels-last.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <array>
#include <cmath>
#include <optional>
#include <tuple>
#include <vector>

#include "../batch_norm_args.h"
#include "../common.h"
#include "batch_norm_dispatch.h"
#include "channel_layout.h"

namespace torchext::cpu {
namespace {

using Tensors3 = std::tuple<at::Tensor, at::Tensor, at::Tensor>;
using Tensors4 = std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor>;

// The layout a kernel reads `t` in: channels-last when t is a channels-last 4-D tensor (and not
// also plain contiguous), otherwise contiguous (the caller makes it so).
inline ChannelLayout channel_layout_of(const at::Tensor& t) {
  ChannelLayout L;
  L.channels = t.size(1);
  if (t.dim() == 4 && !t.is_contiguous() && t.is_contiguous(at::MemoryFormat::ChannelsLast)) {
    L.format = at::MemoryFormat::ChannelsLast;
    L.outer = t.size(0) * t.size(2) * t.size(3);
    L.inner = 1;
  } else {
    L.outer = t.size(0);
    L.inner = 1;
    for (int64_t d = 2; d < t.dim(); ++d) L.inner *= t.size(d);
  }
  return L;
}

// Per-channel tensors take the input's dtype exactly (batch_norm_args.h).
constexpr ChannelParamDtype kParamDtype = ChannelParamDtype::kSameAsInput;

// The values of an optional per-channel tensor as doubles; `fallback` everywhere when absent.
std::vector<double> channel_values(const std::optional<at::Tensor>& t, int64_t C, double fallback) {
  std::vector<double> v(C, fallback);
  if (!given(t)) return v;
  auto c = t->contiguous();
  AT_DISPATCH_FLOATING_TYPES(c.scalar_type(), "torchext_channel_values", [&] {
    const scalar_t* p = c.const_data_ptr<scalar_t>();
    for (int64_t i = 0; i < C; ++i) v[i] = double(p[i]);
  });
  return v;
}

// A 1-D tensor of `like`'s dtype holding v.
at::Tensor tensor_of(const std::vector<double>& v, const at::Tensor& like) {
  auto t = at::empty({int64_t(v.size())}, like.options());
  AT_DISPATCH_FLOATING_TYPES(t.scalar_type(), "torchext_tensor_of", [&] {
    scalar_t* p = t.mutable_data_ptr<scalar_t>();
    for (size_t i = 0; i < v.size(); ++i) p[i] = scalar_t(v[i]);
  });
  return t;
}

// running = (1 - momentum) * running + momentum * stat, in place (running may be strided).
void update_running(at::Tensor& running, const std::vector<double>& stat, double momentum) {
  at::Tensor r = running.is_contiguous() ? running : running.contiguous();
  AT_DISPATCH_FLOATING_TYPES(r.scalar_type(), "torchext_batch_norm_running", [&] {
    scalar_t* p = r.mutable_data_ptr<scalar_t>();
    for (size_t c = 0; c < stat.size(); ++c)
      p[c] = scalar_t((1.0 - momentum) * double(p[c]) + momentum * stat[c]);
  });
  if (!r.is_same(running)) running.copy_(r);
}

std::vector<double> invstd_of(const std::vector<double>& var, double eps) {
  std::vector<double> r(var.size());
  for (size_t c = 0; c < var.size(); ++c) r[c] = 1.0 / std::sqrt(var[c] + eps);
  return r;
}

// (x - center[c]) * scale[c] + shift[c] (+ residual) (relu) into a new tensor laid out as L.
at::Tensor channel_affine(const at::Tensor& x, const ChannelLayout& L, const std::vector<double>& center,
                          const std::vector<double>& scale, const std::vector<double>& shift,
                          const at::Tensor& residual = {}, bool relu = false) {
  auto out = at::empty_like(x, L.format);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "torchext_batch_norm_affine", [&] {
    const std::vector<scalar_t> m(center.begin(), center.end()), s(scale.begin(), scale.end()),
        t(shift.begin(), shift.end());
    cpu_kernel<ChannelNormalizeKernel, scalar_t>()(
        L, x.const_data_ptr<scalar_t>(), m.data(), s.data(), t.data(),
        residual.defined() ? residual.const_data_ptr<scalar_t>() : nullptr, relu,
        out.mutable_data_ptr<scalar_t>());
  });
  return out;
}

// batch_norm, and with `relu` the fused relu(batch_norm(input) + residual) (residual optional).
Tensors3 batch_norm_impl(const char* op, const at::Tensor& input, const std::optional<at::Tensor>& residual,
                         const std::optional<at::Tensor>& weight, const std::optional<at::Tensor>& bias,
                         const std::optional<at::Tensor>& running_mean,
                         const std::optional<at::Tensor>& running_var, bool training,
                         double momentum, double eps, bool relu) {
  check_batch_norm_args(op, input, weight, bias, running_mean, running_var, training, kParamDtype);
  if (given(residual)) check_like_input(op, "residual", input, *residual);

  const ChannelLayout L = channel_layout_of(input);
  const at::Tensor x = input.contiguous(L.format);
  const int64_t C = L.channels, n = L.per_channel();
  const auto w = channel_values(weight, C, 1.0), b = channel_values(bias, C, 0.0);

  std::vector<double> mean(C, 0.0), invstd(C, 0.0);
  at::Tensor save_mean, save_invstd;
  if (training) {
    check_batch_norm_training_size(op, input, n);
    if (n > 0) {
      std::vector<double> var(C);
      AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "torchext_batch_norm_moments", [&] {
        cpu_kernel<ChannelMomentsKernel, scalar_t>()(L, x.const_data_ptr<scalar_t>(),
                                                     mean.data(), var.data());
      });
      invstd = invstd_of(var, eps);
      if (given(running_mean)) {
        // The running variance is unbiased: var * n / (n - 1).
        std::vector<double> unbiased(C);
        for (int64_t c = 0; c < C; ++c) unbiased[c] = var[c] * double(n) / double(n - 1);
        at::Tensor rm = *running_mean, rv = *running_var;
        update_running(rm, mean, momentum);
        update_running(rv, unbiased, momentum);
      }
    }
    save_mean = tensor_of(mean, x);
    save_invstd = tensor_of(invstd, x);
  } else {
    mean = channel_values(running_mean, C, 0.0);
    invstd = invstd_of(channel_values(running_var, C, 1.0), eps);
    save_mean = at::empty({0}, x.options());
    save_invstd = at::empty({0}, x.options());
  }
  // y = (x - mean) * (invstd * w) + b.
  std::vector<double> scale(C);
  for (int64_t c = 0; c < C; ++c) scale[c] = invstd[c] * w[c];
  const at::Tensor r = given(residual) ? residual->contiguous(L.format) : at::Tensor();
  return {channel_affine(x, L, mean, scale, b, r, relu), save_mean, save_invstd};
}

Tensors3 batch_norm_cpu(const at::Tensor& input, const std::optional<at::Tensor>& weight,
                        const std::optional<at::Tensor>& bias,
                        const std::optional<at::Tensor>& running_mean,
                        const std::optional<at::Tensor>& running_var, bool training,
                        double momentum, double eps) {
  return batch_norm_impl("torchext.batch_norm", input, std::nullopt, weight, bias, running_mean,
                         running_var, training, momentum, eps, /*relu=*/false);
}

Tensors3 batch_norm_relu_cpu(const at::Tensor& input, const std::optional<at::Tensor>& residual,
                             const std::optional<at::Tensor>& weight,
                             const std::optional<at::Tensor>& bias,
                             const std::optional<at::Tensor>& running_mean,
                             const std::optional<at::Tensor>& running_var, bool training,
                             double momentum, double eps) {
  return batch_norm_impl("torchext.batch_norm_relu", input, residual, weight, bias, running_mean,
                         running_var, training, momentum, eps, /*relu=*/true);
}

// Gradients of y = (x - mean) * invstd * w + b. With xhat = (x - mean) * invstd and n values per
// channel, training (mean and invstd depend on x; Ioffe & Szegedy 2015, section 3):
//   dx = w * invstd / n * (n * dy - sum(dy) - xhat * sum(dy * xhat))
// eval (running statistics are constants): dx = dy * w * invstd. In both modes
//   dweight = sum(dy * xhat), dbias = sum(dy).
// With relu_out (the fused op's output), dy is first masked by relu's backward; that masked dy is
// also the gradient of the residual. Returns (grad_input, masked dy, grad_weight, grad_bias).
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

  const ChannelLayout L = channel_layout_of(input);
  const int64_t C = L.channels, n = L.per_channel();
  std::vector<double> mean, invstd;
  if (training) {
    mean = channel_values(save_mean, C, 0.0);
    invstd = channel_values(save_invstd, C, 0.0);
  } else {
    mean = channel_values(running_mean, C, 0.0);
    invstd = invstd_of(channel_values(running_var, C, 1.0), eps);
  }
  const auto w = channel_values(weight, C, 1.0);
  const at::Tensor x = input.contiguous(L.format);
  at::Tensor dy = grad_output.contiguous(L.format);
  const at::Tensor y = fused ? relu_out.contiguous(L.format) : at::Tensor();
  at::Tensor masked = fused ? at::empty_like(x, L.format) : at::Tensor();
  at::Tensor grad_input, grad_weight, grad_bias;

  // sum(dy) and sum(dy * (x - mean)) per channel, when any output needs them (and always when
  // fused: the same pass masks dy).
  std::vector<double> sum_dy(C, 0.0), sum_dy_xmu(C, 0.0);
  if (fused || output_mask[1] || output_mask[2] || (training && output_mask[0])) {
    AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "torchext_batch_norm_backward_sums", [&] {
      cpu_kernel<ChannelGradSumsKernel, scalar_t>()(
          L, dy.const_data_ptr<scalar_t>(), x.const_data_ptr<scalar_t>(), mean.data(),
          fused ? y.const_data_ptr<scalar_t>() : nullptr,
          fused ? masked.mutable_data_ptr<scalar_t>() : nullptr, sum_dy.data(), sum_dy_xmu.data());
    });
    if (fused) dy = masked;
  }
  if (output_mask[0]) {
    if (!training) {
      std::vector<double> k(C), zero(C, 0.0);
      for (int64_t c = 0; c < C; ++c) k[c] = w[c] * invstd[c];
      grad_input = channel_affine(dy, L, zero, k, zero);
    } else {
      grad_input = at::empty_like(x, L.format);
      if (n > 0) {
        // dx = k * (dy - mean(dy) - (x - mean) * proj), proj = invstd^2 * sum(dy * (x - mean)) / n.
        AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "torchext_batch_norm_backward_input", [&] {
          std::vector<scalar_t> k(C), mdy(C), proj(C), m(C);
          for (int64_t c = 0; c < C; ++c) {
            k[c] = scalar_t(w[c] * invstd[c]);
            mdy[c] = scalar_t(sum_dy[c] / double(n));
            proj[c] = scalar_t(invstd[c] * invstd[c] * sum_dy_xmu[c] / double(n));
            m[c] = scalar_t(mean[c]);
          }
          cpu_kernel<ChannelInputGradKernel, scalar_t>()(
              L, dy.const_data_ptr<scalar_t>(), x.const_data_ptr<scalar_t>(), k.data(), mdy.data(),
              m.data(), proj.data(), grad_input.mutable_data_ptr<scalar_t>());
        });
      }
    }
  }
  if (output_mask[1]) {
    std::vector<double> gw(C);
    for (int64_t c = 0; c < C; ++c) gw[c] = sum_dy_xmu[c] * invstd[c];
    grad_weight = tensor_of(gw, x);
  }
  if (output_mask[2]) grad_bias = tensor_of(sum_dy, x);
  return {grad_input, masked, grad_weight, grad_bias};
}

Tensors3 batch_norm_backward_cpu(const at::Tensor& grad_output, const at::Tensor& input,
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
Tensors4 batch_norm_relu_backward_cpu(const at::Tensor& grad_output, const at::Tensor& output,
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

TORCH_LIBRARY_IMPL(torchext, CPU, m) {
  m.impl("batch_norm", &batch_norm_cpu);
  m.impl("batch_norm_backward", &batch_norm_backward_cpu);
  m.impl("batch_norm_relu", &batch_norm_relu_cpu);
  m.impl("batch_norm_relu_backward", &batch_norm_relu_backward_cpu);
}

}  // namespace torchext::cpu
