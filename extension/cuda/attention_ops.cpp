// scaled_dot_product_attention forward and backward (CUDA host side): checks and allocation; the
// kernels are attention.cu. lse is kept in the accumulate type (float32 for float16/bfloat16).
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <optional>
#include <tuple>

#include "../attention_args.h"
#include "attention.h"
#include "host_utils.h"

namespace torchext::cuda {
namespace {

at::ScalarType lse_dtype(const at::Tensor& query) {
  return query.scalar_type() == at::kDouble ? at::kDouble : at::kFloat;
}

std::tuple<at::Tensor, at::Tensor> attention_cuda(const at::Tensor& query, const at::Tensor& key,
                                                  const at::Tensor& value,
                                                  const std::optional<at::Tensor>& attn_mask,
                                                  bool is_causal, std::optional<double> scale,
                                                  bool enable_gqa) {
  const char* op = "torchext.scaled_dot_product_attention";
  const AttentionGeometry g = check_attention_args(op, query, key, value, attn_mask, is_causal, scale, enable_gqa);
  c10::cuda::CUDAGuard guard(query.device());
  auto out = at::empty(attention_shape(query, {g.L, g.Ev}), query.options());
  auto lse = at::empty(attention_shape(query, {g.L}), query.options().dtype(lse_dtype(query)));
  const at::Tensor* mask = defined_or_null(attn_mask);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, query.scalar_type(), "torchext_attention", [&] {
    using A = acc_t<scalar_t>;
    attention_launch(g, query.const_data_ptr<scalar_t>(), key.const_data_ptr<scalar_t>(),
                     value.const_data_ptr<scalar_t>(), mask ? mask->const_data_ptr() : nullptr,
                     out.mutable_data_ptr<scalar_t>(), lse.mutable_data_ptr<A>());
  });
  return {out, lse};
}

std::tuple<at::Tensor, at::Tensor, at::Tensor, at::Tensor> attention_backward_cuda(
    const at::Tensor& grad_out, const at::Tensor& query, const at::Tensor& key, const at::Tensor& value,
    const std::optional<at::Tensor>& attn_mask, const at::Tensor& out, const at::Tensor& lse, bool is_causal,
    std::optional<double> scale, bool enable_gqa, bool mask_grad) {
  const char* op = "torchext.scaled_dot_product_attention_backward";
  const AttentionGeometry g = check_attention_args(op, query, key, value, attn_mask, is_causal, scale, enable_gqa);
  check_attention_saved(op, query, grad_out, out, lse, g, lse_dtype(query));
  const at::Tensor* mask = defined_or_null(attn_mask);
  TORCH_CHECK(!mask_grad || (mask && mask->scalar_type() != at::kBool), op,
              ": mask_grad needs a floating attn_mask");
  c10::cuda::CUDAGuard guard(query.device());
  const at::Tensor dout = grad_out.contiguous(), o = out.contiguous(), l = lse.contiguous();
  auto dq = at::empty(query.sizes(), query.options());
  auto dk = at::empty(key.sizes(), key.options());
  auto dv = at::empty(value.sizes(), value.options());
  at::Tensor dmask;
  if (mask_grad) dmask = at::empty(attention_shape(query, {g.L, g.S}), query.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, query.scalar_type(), "torchext_attention_backward", [&] {
    using A = acc_t<scalar_t>;
    attention_backward_launch(g, query.const_data_ptr<scalar_t>(), key.const_data_ptr<scalar_t>(),
                              value.const_data_ptr<scalar_t>(), mask ? mask->const_data_ptr() : nullptr,
                              o.const_data_ptr<scalar_t>(), l.const_data_ptr<A>(), dout.const_data_ptr<scalar_t>(),
                              dq.mutable_data_ptr<scalar_t>(), dk.mutable_data_ptr<scalar_t>(),
                              dv.mutable_data_ptr<scalar_t>(),
                              mask_grad ? dmask.mutable_data_ptr<scalar_t>() : nullptr);
  });
  return {dq, dk, dv, dmask};
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CUDA, m) {
  m.impl("scaled_dot_product_attention", &attention_cuda);
  m.impl("scaled_dot_product_attention_backward", &attention_backward_cuda);
}

}  // namespace torchext::cuda
