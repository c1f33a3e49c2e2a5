// conv2d and its backward on CPU: argument checks, output allocation and the dtype switch; the
// kernels (kernels/conv2d.cpp, and kernels/depthwise_conv2d.cpp where use_depthwise picks them)
// run through conv2d_dispatch.h and depthwise_dispatch.h.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <array>
#include <optional>
#include <tuple>

#include "../common.h"
#include "../conv2d_args.h"
#include "conv2d_algorithm.h"
#include "conv2d_dispatch.h"

namespace torchext::cpu {
namespace {

at::Tensor conv2d_cpu(const at::Tensor& input, const at::Tensor& weight,
                      const std::optional<at::Tensor>& bias_opt, at::IntArrayRef stride,
                      at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups) {
  const char* op = "torchext.conv2d";
  const Conv2dArgs s = conv2d_args(op, input, weight, stride, padding, dilation, groups);
  at::Tensor bias;
  if (bias_opt.has_value() && bias_opt->defined()) {
    bias = bias_opt->contiguous();
    check_conv2d_bias(op, bias, input, s);
  }
  auto out = at::empty({s.batch, s.out_channels, s.geo.out_h, s.geo.out_w}, input.options());
  if (out.numel() == 0) return out;
  if (s.gemm_k() == 0) {  // no input channels: the output is the bias alone
    if (bias.defined()) {
      out.copy_(bias.view({1, s.out_channels, 1, 1}).expand_as(out));
    } else {
      out.zero_();
    }
    return out;
  }
  auto x = input.contiguous();
  auto w = weight.contiguous();
  const bool depthwise = use_depthwise(s);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "torchext_conv2d", [&] {
    const scalar_t* b = bias.defined() ? bias.const_data_ptr<scalar_t>() : nullptr;
    if (depthwise) {
      cpu_kernel<DepthwiseForwardKernel, scalar_t>()(s, x.const_data_ptr<scalar_t>(), w.const_data_ptr<scalar_t>(),
                                                     b, out.mutable_data_ptr<scalar_t>());
      return;
    }
    cpu_kernel<Conv2dForwardKernel, scalar_t>()(
        s, conv_tiles(s), x.const_data_ptr<scalar_t>(), w.const_data_ptr<scalar_t>(), b,
        out.mutable_data_ptr<scalar_t>());
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> conv2d_backward_cpu(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight,
    at::IntArrayRef stride, at::IntArrayRef padding, at::IntArrayRef dilation, int64_t groups,
    std::array<bool, 3> output_mask) {
  const char* op = "torchext.conv2d_backward";
  const Conv2dArgs s = conv2d_args(op, input, weight, stride, padding, dilation, groups);
  check_conv2d_grad_output(op, grad_output, input, s);

  at::Tensor grad_input, grad_weight, grad_bias;
  if (output_mask[0]) grad_input = at::empty(input.sizes(), input.options());
  if (output_mask[1]) grad_weight = at::empty(weight.sizes(), weight.options());
  if (output_mask[2]) grad_bias = at::empty({s.out_channels}, grad_output.options());
  if (!output_mask[0] && !output_mask[1] && !output_mask[2]) {
    return {grad_input, grad_weight, grad_bias};
  }

  auto go = grad_output.contiguous();
  const bool empty_gemm = s.batch == 0 || s.out_channels == 0 || s.gemm_k() == 0;
  AT_DISPATCH_FLOATING_TYPES(go.scalar_type(), "torchext_conv2d_backward", [&] {
    if (grad_bias.defined()) {
      cpu_kernel<Conv2dBiasGradKernel, scalar_t>()(go.const_data_ptr<scalar_t>(), s.batch,
                                                   s.out_channels, s.geo.out_area(),
                                                   grad_bias.mutable_data_ptr<scalar_t>());
    }
    if (empty_gemm) {  // every product sums over nothing
      if (grad_input.defined()) grad_input.zero_();
      if (grad_weight.defined()) grad_weight.zero_();
      return;
    }
    if (!grad_input.defined() && !grad_weight.defined()) return;
    // The input is read only for the weight gradient.
    auto x = grad_weight.defined() ? input.contiguous() : at::Tensor();
    auto w = weight.contiguous();
    const scalar_t* x_data = x.defined() ? x.const_data_ptr<scalar_t>() : nullptr;
    scalar_t* gi = grad_input.defined() ? grad_input.mutable_data_ptr<scalar_t>() : nullptr;
    scalar_t* gw = grad_weight.defined() ? grad_weight.mutable_data_ptr<scalar_t>() : nullptr;
    if (use_depthwise(s)) {
      cpu_kernel<DepthwiseBackwardKernel, scalar_t>()(s, go.const_data_ptr<scalar_t>(), x_data,
                                                      w.const_data_ptr<scalar_t>(), gi, gw);
      return;
    }
    cpu_kernel<Conv2dBackwardKernel, scalar_t>()(
        s, conv_tiles(s), go.const_data_ptr<scalar_t>(), x_data, w.const_data_ptr<scalar_t>(), gi, gw);
  });
  return {grad_input, grad_weight, grad_bias};
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CPU, m) {
  m.impl("conv2d", &conv2d_cpu);
  m.impl("conv2d_backward", &conv2d_backward_cpu);
}

}  // namespace torchext::cpu
