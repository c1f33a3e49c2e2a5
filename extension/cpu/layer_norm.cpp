// layer_norm forward and backward (CPU): checks and allocation; the loops are
// kernels/layer_norm.cpp. The input is read as contiguous rows of the normalized dims.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <array>
#include <optional>
#include <tuple>

#include "../layer_norm_args.h"
#include "layer_norm_dispatch.h"

namespace torchext::cpu {
namespace {

using Tensors3 = std::tuple<at::Tensor, at::Tensor, at::Tensor>;

const at::Tensor* optional_ptr(const std::optional<at::Tensor>& t) {
  return t.has_value() && t->defined() ? &*t : nullptr;
}

Tensors3 layer_norm_cpu(const at::Tensor& input, at::IntArrayRef normalized_shape,
                        const std::optional<at::Tensor>& weight,
                        const std::optional<at::Tensor>& bias, double eps) {
  const char* op = "torchext.layer_norm";
  const auto [M, N] = check_layer_norm_args(op, input, normalized_shape, weight, bias);
  const at::Tensor x = input.contiguous();
  const at::Tensor* w = optional_ptr(weight);
  const at::Tensor* b = optional_ptr(bias);
  const at::Tensor wc = w ? w->contiguous() : at::Tensor(), bc = b ? b->contiguous() : at::Tensor();
  auto out = at::empty_like(x);
  const auto stat_shape = layer_norm_stat_shape(input, normalized_shape.size());
  auto mean = at::empty(stat_shape, x.options()), rstd = at::empty(stat_shape, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "torchext_layer_norm", [&] {
    cpu_kernel<LayerNormKernel, scalar_t>()(
        x.const_data_ptr<scalar_t>(), w ? wc.const_data_ptr<scalar_t>() : nullptr,
        b ? bc.const_data_ptr<scalar_t>() : nullptr, M, N, eps, out.mutable_data_ptr<scalar_t>(),
        mean.mutable_data_ptr<scalar_t>(), rstd.mutable_data_ptr<scalar_t>());
  });
  return {out, mean, rstd};
}

Tensors3 layer_norm_backward_cpu(const at::Tensor& grad_output, const at::Tensor& input,
                                 at::IntArrayRef normalized_shape, const at::Tensor& mean,
                                 const at::Tensor& rstd, const std::optional<at::Tensor>& weight,
                                 std::array<bool, 3> output_mask) {
  const char* op = "torchext.layer_norm_backward";
  const auto [M, N] = check_layer_norm_args(op, input, normalized_shape, weight, std::nullopt);
  check_layer_norm_grad(op, grad_output, input);
  check_layer_norm_stat(op, "mean", mean, input, M, input.scalar_type());
  check_layer_norm_stat(op, "rstd", rstd, input, M, input.scalar_type());
  const at::Tensor x = input.contiguous(), dy = grad_output.contiguous();
  const at::Tensor m = mean.contiguous(), s = rstd.contiguous();
  const at::Tensor* w = optional_ptr(weight);
  const at::Tensor wc = w ? w->contiguous() : at::Tensor();
  at::Tensor dx, dw, db;
  if (output_mask[0]) dx = at::empty_like(x);
  if (output_mask[1]) dw = at::empty(normalized_shape, x.options());
  if (output_mask[2]) db = at::empty(normalized_shape, x.options());
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "torchext_layer_norm_backward", [&] {
    cpu_kernel<LayerNormBackwardKernel, scalar_t>()(
        dy.const_data_ptr<scalar_t>(), x.const_data_ptr<scalar_t>(), m.const_data_ptr<scalar_t>(),
        s.const_data_ptr<scalar_t>(), w ? wc.const_data_ptr<scalar_t>() : nullptr, M, N,
        dx.defined() ? dx.mutable_data_ptr<scalar_t>() : nullptr,
        dw.defined() ? dw.mutable_data_ptr<scalar_t>() : nullptr,
        db.defined() ? db.mutable_data_ptr<scalar_t>() : nullptr);
  });
  return {dx, dw, db};
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CPU, m) {
  m.impl("layer_norm", &layer_norm_cpu);
  m.impl("layer_norm_backward", &layer_norm_backward_cpu);
}

}  // namespace torchext::cpu
