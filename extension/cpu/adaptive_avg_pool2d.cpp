// Adaptive 2-D average pooling and its backward (CPU), for (N, C, H, W) or unbatched (C, H, W).
// Output cell i along a dim of input length L and output length O averages the input range
// [floor(i*L/O), ceil((i+1)*L/O)); ranges of neighbouring cells overlap when O does not divide L.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include "../common.h"
#include "../pooling_args.h"
#include "pooling_dispatch.h"

namespace torchext::cpu {
namespace {

at::Tensor adaptive_avg_pool2d_cpu(const at::Tensor& self, c10::IntArrayRef output_size) {
  const char* op = "torchext.adaptive_avg_pool2d";
  const auto shape = adaptive_avg_pool2d_args(op, self, output_size);
  const int64_t H = self.size(-2), W = self.size(-1), OH = output_size[0], OW = output_size[1];
  auto x = self.contiguous();
  auto out = at::empty(shape, x.options());
  if (out.numel() == 0) return out;
  const int64_t planes = x.numel() / (H * W);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "torchext_adaptive_avg_pool2d", [&] {
    cpu_kernel<AdaptiveAvgPool2dKernel, scalar_t>()(
        planes, H, W, OH, OW, x.const_data_ptr<scalar_t>(), out.mutable_data_ptr<scalar_t>());
  });
  return out;
}

at::Tensor adaptive_avg_pool2d_backward_cpu(const at::Tensor& grad_output, const at::Tensor& self) {
  const char* op = "torchext.adaptive_avg_pool2d_backward";
  check_adaptive_avg_pool2d_backward_args(op, grad_output, self);
  const int64_t H = self.size(-2), W = self.size(-1);
  const int64_t OH = grad_output.size(-2), OW = grad_output.size(-1);
  auto go = grad_output.contiguous();
  auto grad_input = at::empty(self.sizes(), go.options());
  if (go.numel() == 0) return grad_input.zero_();
  const int64_t planes = grad_input.numel() / (H * W);
  AT_DISPATCH_FLOATING_TYPES(go.scalar_type(), "torchext_adaptive_avg_pool2d_backward", [&] {
    cpu_kernel<AdaptiveAvgPool2dBackwardKernel, scalar_t>()(
        planes, H, W, OH, OW, go.const_data_ptr<scalar_t>(), grad_input.mutable_data_ptr<scalar_t>());
  });
  return grad_input;
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CPU, m) {
  m.impl("adaptive_avg_pool2d", &adaptive_avg_pool2d_cpu);
  m.impl("adaptive_avg_pool2d_backward", &adaptive_avg_pool2d_backward_cpu);
}

}  // namespace torchext::cpu
