// max_pool2d with indices, avg_pool2d, adaptive_avg_pool2d and their backwards (CUDA host side), for
// (N, C, H, W) or unbatched (C, H, W) inputs.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <optional>
#include <tuple>

#include "../pooling_args.h"
#include "host_utils.h"
#include "pooling.h"

namespace torchext::cuda {
namespace {

int64_t planes_of(const at::Tensor& t) { return t.dim() == 4 ? t.size(0) * t.size(1) : t.size(0); }

std::tuple<at::Tensor, at::Tensor> max_pool2d_cuda(const at::Tensor& self, at::IntArrayRef kernel_size,
                                                   at::IntArrayRef stride, at::IntArrayRef padding,
                                                   at::IntArrayRef dilation, bool ceil_mode) {
  const char* op = "torchext.max_pool2d";
  const PoolGeometry g = max_pool2d_args(op, self, kernel_size, stride, padding, dilation, ceil_mode);
  c10::cuda::CUDAGuard guard(self.device());
  const auto x = self.contiguous();
  const auto shape = pooled_shape(self, g.OH, g.OW);
  auto out = at::empty(shape, x.options());
  auto indices = at::empty(shape, x.options().dtype(at::kLong));
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "torchext_max_pool2d", [&] {
    max_pool2d_launch(x.const_data_ptr<scalar_t>(), planes_of(x), g,
                      out.mutable_data_ptr<scalar_t>(), indices.mutable_data_ptr<int64_t>());
  });
  return {out, indices};
}

at::Tensor max_pool2d_backward_cuda(const at::Tensor& grad_output, const at::Tensor& self,
                                    const at::Tensor& indices) {
  const char* op = "torchext.max_pool2d_backward";
  check_max_pool2d_backward_args(op, grad_output, self, indices);
  c10::cuda::CUDAGuard guard(self.device());
  const auto go = grad_output.contiguous();
  const auto ix = indices.contiguous();
  at::Tensor grad_input;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, go.scalar_type(), "torchext_max_pool2d_backward", [&] {
    using A = acc_t<scalar_t>;
    // Half/bfloat16 gradients are summed in a float buffer and rounded once.
    auto acc = at::zeros(self.sizes(), go.options().dtype(c10::CppTypeToScalarType<A>::value));
    max_pool2d_backward_launch(go.const_data_ptr<scalar_t>(), ix.const_data_ptr<int64_t>(),
                               planes_of(self), self.size(-2) * self.size(-1),
                               go.size(-2) * go.size(-1), acc.template mutable_data_ptr<A>());
    grad_input = acc.to(go.scalar_type());
  });
  return grad_input;
}

at::Tensor max_pool2d_double_backward_cuda(const at::Tensor& grad_grad_input, const at::Tensor& indices) {
  const char* op = "torchext.max_pool2d_double_backward";
  check_max_pool2d_double_backward_args(op, grad_grad_input, indices);
  c10::cuda::CUDAGuard guard(grad_grad_input.device());
  const auto gg = grad_grad_input.contiguous();
  const auto ix = indices.contiguous();
  auto out = at::empty(indices.sizes(), gg.options());
  const int64_t OHW = ix.size(-2) * ix.size(-1);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, gg.scalar_type(),
                                  "torchext_max_pool2d_double_backward", [&] {
    max_pool2d_double_backward_launch(gg.const_data_ptr<scalar_t>(), ix.const_data_ptr<int64_t>(),
                                      OHW == 0 ? 0 : ix.numel() / OHW, gg.size(-2) * gg.size(-1), OHW,
                                      out.mutable_data_ptr<scalar_t>());
  });
  return out;
}

at::Tensor avg_pool2d_cuda(const at::Tensor& self, at::IntArrayRef kernel_size, at::IntArrayRef stride,
                           at::IntArrayRef padding, bool ceil_mode, bool count_include_pad,
                           std::optional<int64_t> divisor_override) {
  const char* op = "torchext.avg_pool2d";
  const PoolGeometry g = avg_pool2d_args(op, self, kernel_size, stride, padding, ceil_mode, divisor_override);
  c10::cuda::CUDAGuard guard(self.device());
  const auto x = self.contiguous();
  auto out = at::empty(pooled_shape(self, g.OH, g.OW), x.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "torchext_avg_pool2d", [&] {
    avg_pool2d_launch(x.const_data_ptr<scalar_t>(), planes_of(x), g, count_include_pad,
                      divisor_override.value_or(0), out.mutable_data_ptr<scalar_t>());
  });
  return out;
}

at::Tensor avg_pool2d_backward_cuda(const at::Tensor& grad_output, const at::Tensor& self,
                                    at::IntArrayRef kernel_size, at::IntArrayRef stride,
                                    at::IntArrayRef padding, bool ceil_mode, bool count_include_pad,
                                    std::optional<int64_t> divisor_override) {
  const char* op = "torchext.avg_pool2d_backward";
  const PoolGeometry g = avg_pool2d_backward_args(op, grad_output, self, kernel_size, stride, padding,
                                                  ceil_mode, divisor_override);
  c10::cuda::CUDAGuard guard(self.device());
  const auto go = grad_output.contiguous();
  auto grad_input = at::empty(self.sizes(), go.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, go.scalar_type(), "torchext_avg_pool2d_backward", [&] {
    avg_pool2d_backward_launch(go.const_data_ptr<scalar_t>(), planes_of(self), g, count_include_pad,
                               divisor_override.value_or(0), grad_input.mutable_data_ptr<scalar_t>());
  });
  return grad_input;
}

at::Tensor adaptive_avg_pool2d_cuda(const at::Tensor& self, at::IntArrayRef output_size) {
  const char* op = "torchext.adaptive_avg_pool2d";
  const auto shape = adaptive_avg_pool2d_args(op, self, output_size);
  const int64_t H = self.size(-2), W = self.size(-1), OH = output_size[0], OW = output_size[1];
  c10::cuda::CUDAGuard guard(self.device());
  const auto x = self.contiguous();
  auto out = at::empty(shape, x.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "torchext_adaptive_avg_pool2d", [&] {
    adaptive_avg_pool2d_launch(x.const_data_ptr<scalar_t>(), planes_of(x), H, W, OH, OW,
                               out.mutable_data_ptr<scalar_t>());
  });
  return out;
}

at::Tensor adaptive_avg_pool2d_backward_cuda(const at::Tensor& grad_output, const at::Tensor& self) {
  const char* op = "torchext.adaptive_avg_pool2d_backward";
  check_adaptive_avg_pool2d_backward_args(op, grad_output, self);
  const int64_t H = self.size(-2), W = self.size(-1);
  const int64_t OH = grad_output.size(-2), OW = grad_output.size(-1);
  c10::cuda::CUDAGuard guard(self.device());
  const auto go = grad_output.contiguous();
  auto grad_input = at::empty(self.sizes(), go.options());
  if (go.numel() == 0) return grad_input.zero_();
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, go.scalar_type(), "torchext_adaptive_avg_pool2d_backward", [&] {
    adaptive_avg_pool2d_backward_launch(go.const_data_ptr<scalar_t>(), planes_of(self), H, W, OH,
                                        OW, grad_input.mutable_data_ptr<scalar_t>());
  });
  return grad_input;
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CUDA, m) {
  m.impl("max_pool2d", &max_pool2d_cuda);
  m.impl("max_pool2d_backward", &max_pool2d_backward_cuda);
  m.impl("max_pool2d_double_backward", &max_pool2d_double_backward_cuda);
  m.impl("avg_pool2d", &avg_pool2d_cuda);
  m.impl("avg_pool2d_backward", &avg_pool2d_backward_cuda);
  m.impl("adaptive_avg_pool2d", &adaptive_avg_pool2d_cuda);
  m.impl("adaptive_avg_pool2d_backward", &adaptive_avg_pool2d_backward_cuda);
}

}  // namespace torchext::cuda
