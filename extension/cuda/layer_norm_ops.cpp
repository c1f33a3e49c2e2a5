// layer_norm forward and backward (CUDA host side): checks and allocation; the kernels are
// layer_norm.cu. Statistics are kept in the accumulate type (float32 for float16/bfloat16).
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <array>
#include <optional>
#include <tuple>

#include "../layer_norm_args.h"
#include "host_utils.h"
#include "layer_norm.h"

namespace torchext::cuda {
namespace {

using Tensors3 = std::tuple<at::Tensor, at::Tensor, at::Tensor>;

at::Tensor contiguous_or_undefined(const std::optional<at::Tensor>& t) {
  return t.has_value() && t->defined() ? t->contiguous() : at::Tensor();
}

template <typename scalar_t>
const scalar_t* ptr_or_null(const at::Tensor& t) {
  return t.defined() ? t.const_data_ptr<scalar_t>() : nullptr;
}

template <typename scalar_t>
scalar_t* mutable_or_null(at::Tensor& t) {
  return t.defined() ? t.mutable_data_ptr<scalar_t>() : nullptr;
}

Tensors3 layer_norm_cuda(const at::Tensor& input, at::IntArrayRef normalized_shape,
                         const std::optional<at::Tensor>& weight,
                         const std::optional<at::Tensor>& bias, double eps) {
  const char* op = "torchext.layer_norm";
  const auto [M, N] = check_layer_norm_args(op, input, normalized_shape, weight, bias);
  c10::cuda::CUDAGuard guard(input.device());
  const at::Tensor x = input.contiguous();
  const at::Tensor w = contiguous_or_undefined(weight), b = contiguous_or_undefined(bias);
  auto out = at::empty_like(x);
  const auto stat_shape = layer_norm_stat_shape(input, normalized_shape.size());
  const auto stat_options = x.options().dtype(layer_norm_acc_dtype(x));
  auto mean = at::empty(stat_shape, stat_options), rstd = at::empty(stat_shape, stat_options);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "torchext_layer_norm", [&] {
    using A = acc_t<scalar_t>;
    layer_norm_launch(x.const_data_ptr<scalar_t>(), ptr_or_null<scalar_t>(w), ptr_or_null<scalar_t>(b),
                      M, N, eps, out.mutable_data_ptr<scalar_t>(), mean.mutable_data_ptr<A>(),
                      rstd.mutable_data_ptr<A>());
  });
  return {out, mean, rstd};
}

Tensors3 layer_norm_backward_cuda(const at::Tensor& grad_output, const at::Tensor& input,
                                  at::IntArrayRef normalized_shape, const at::Tensor& mean,
                                  const at::Tensor& rstd, const std::optional<at::Tensor>& weight,
                                  std::array<bool, 3> output_mask) {
  const char* op = "torchext.layer_norm_backward";
  const auto [M, N] = check_layer_norm_args(op, input, normalized_shape, weight, std::nullopt);
  check_layer_norm_grad(op, grad_output, input);
  const at::ScalarType stat_dtype = layer_norm_acc_dtype(input);
  check_layer_norm_stat(op, "mean", mean, input, M, stat_dtype);
  check_layer_norm_stat(op, "rstd", rstd, input, M, stat_dtype);
  c10::cuda::CUDAGuard guard(input.device());
  const at::Tensor x = input.contiguous(), dy = grad_output.contiguous();
  const at::Tensor m = mean.contiguous(), s = rstd.contiguous();
  const at::Tensor w = contiguous_or_undefined(weight);
  at::Tensor dx, dw, db;
  if (output_mask[0]) dx = at::empty_like(x);
  if (output_mask[1]) dw = at::empty(normalized_shape, x.options());
  if (output_mask[2]) db = at::empty(normalized_shape, x.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "torchext_layer_norm_backward", [&] {
    using A = acc_t<scalar_t>;
    layer_norm_backward_launch(dy.const_data_ptr<scalar_t>(), x.const_data_ptr<scalar_t>(),
                               m.const_data_ptr<A>(), s.const_data_ptr<A>(), ptr_or_null<scalar_t>(w),
                               M, N, mutable_or_null<scalar_t>(dx), mutable_or_null<scalar_t>(dw),
                               mutable_or_null<scalar_t>(db));
  });
  return {dx, dw, db};
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CUDA, m) {
  m.impl("layer_norm", &layer_norm_cuda);
  m.impl("layer_norm_backward", &layer_norm_backward_cuda);
}

}  // namespace torchext::cuda
