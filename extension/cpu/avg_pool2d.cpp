// 2-D average pooling and its backward (CPU), for (N, C, H, W) or unbatched (C, H, W).
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <optional>

#include "../common.h"
#include "../pooling_args.h"
#include "pooling_dispatch.h"

namespace torchext::cpu {
namespace {

at::Tensor avg_pool2d_cpu(const at::Tensor& self, c10::IntArrayRef kernel_size, c10::IntArrayRef stride,
                          c10::IntArrayRef padding, bool ceil_mode, bool count_include_pad,
                          std::optional<int64_t> divisor_override) {
  const char* op = "torchext.avg_pool2d";
  const PoolGeometry g = avg_pool2d_args(op, self, kernel_size, stride, padding, ceil_mode, divisor_override);
  auto x = self.contiguous();
  auto out = at::empty(pooled_shape(self, g.OH, g.OW), x.options());
  const int64_t planes = x.numel() / (g.H * g.W);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "torchext_avg_pool2d", [&] {
    cpu_kernel<AvgPool2dKernel, scalar_t>()(g, count_include_pad, divisor_override.value_or(0), planes,
                                            x.const_data_ptr<scalar_t>(), out.mutable_data_ptr<scalar_t>());
  });
  return out;
}

at::Tensor avg_pool2d_backward_cpu(const at::Tensor& grad_output, const at::Tensor& self,
                                   c10::IntArrayRef kernel_size, c10::IntArrayRef stride,
                                   c10::IntArrayRef padding, bool ceil_mode, bool count_include_pad,
                                   std::optional<int64_t> divisor_override) {
  const char* op = "torchext.avg_pool2d_backward";
  const PoolGeometry g = avg_pool2d_backward_args(op, grad_output, self, kernel_size, stride, padding,
                                                  ceil_mode, divisor_override);
  auto go = grad_output.contiguous();
  auto grad_input = at::empty(self.sizes(), go.options());
  const int64_t planes = grad_input.numel() / (g.H * g.W);
  AT_DISPATCH_FLOATING_TYPES(go.scalar_type(), "torchext_avg_pool2d_backward", [&] {
    cpu_kernel<AvgPool2dBackwardKernel, scalar_t>()(g, count_include_pad, divisor_override.value_or(0),
                                                    planes, go.const_data_ptr<scalar_t>(),
                                                    grad_input.mutable_data_ptr<scalar_t>());
  });
  return grad_input;
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CPU, m) {
  m.impl("avg_pool2d", &avg_pool2d_cpu);
  m.impl("avg_pool2d_backward", &avg_pool2d_backward_cpu);
}

}  // namespace torchext::cpu
