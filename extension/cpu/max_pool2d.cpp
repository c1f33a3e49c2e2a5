// 2-D max pooling with indices and its backward (CPU), for (N, C, H, W) or unbatched (C, H, W).
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <cstdint>
#include <tuple>

#include "../common.h"
#include "../pooling_args.h"
#include "pooling_dispatch.h"

namespace torchext::cpu {
namespace {

std::tuple<at::Tensor, at::Tensor> max_pool2d_cpu(const at::Tensor& self, c10::IntArrayRef kernel_size,
                                                  c10::IntArrayRef stride, c10::IntArrayRef padding,
                                                  c10::IntArrayRef dilation, bool ceil_mode) {
  const char* op = "torchext.max_pool2d";
  const PoolGeometry g = max_pool2d_args(op, self, kernel_size, stride, padding, dilation, ceil_mode);
  auto x = self.contiguous();
  const auto out_shape = pooled_shape(self, g.OH, g.OW);
  auto out = at::empty(out_shape, x.options());
  auto indices = at::empty(out_shape, x.options().dtype(at::kLong));
  const int64_t planes = x.numel() / (g.H * g.W);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "torchext_max_pool2d", [&] {
    cpu_kernel<MaxPool2dKernel, scalar_t>()(g, planes, x.const_data_ptr<scalar_t>(),
                                            out.mutable_data_ptr<scalar_t>(),
                                            indices.mutable_data_ptr<int64_t>());
  });
  return {out, indices};
}

// grad_input[idx] += grad_output (kernels/max_pool2d.cpp); an index outside the plane other than
// -1 (a window with no input element) is an error.
at::Tensor max_pool2d_backward_cpu(const at::Tensor& grad_output, const at::Tensor& self,
                                   const at::Tensor& indices) {
  const char* op = "torchext.max_pool2d_backward";
  check_max_pool2d_backward_args(op, grad_output, self, indices);
  auto go = grad_output.contiguous();
  auto ix = indices.contiguous();
  auto grad_input = at::empty(self.sizes(), go.options());
  const int64_t HW = self.size(-2) * self.size(-1);
  const int64_t OHW = go.size(-2) * go.size(-1);
  const int64_t planes = self.numel() / HW;
  bool indices_ok = true;
  AT_DISPATCH_FLOATING_TYPES(go.scalar_type(), "torchext_max_pool2d_backward", [&] {
    indices_ok = cpu_kernel<MaxPool2dBackwardKernel, scalar_t>()(
        planes, HW, OHW, go.const_data_ptr<scalar_t>(), ix.const_data_ptr<int64_t>(),
        grad_input.mutable_data_ptr<scalar_t>());
  });
  TORCH_CHECK(indices_ok, op, ": indices out of range: expected values in [0, ", HW,
              ") (flat positions within an input plane of size ", self.size(-2), "x", self.size(-1), ")");
  return grad_input;
}

// grad_grad_input gathered at the indices (kernels/max_pool2d.cpp), of the indices' shape.
at::Tensor max_pool2d_double_backward_cpu(const at::Tensor& grad_grad_input, const at::Tensor& indices) {
  const char* op = "torchext.max_pool2d_double_backward";
  check_max_pool2d_double_backward_args(op, grad_grad_input, indices);
  auto gg = grad_grad_input.contiguous();
  auto ix = indices.contiguous();
  auto out = at::empty(indices.sizes(), gg.options());
  const int64_t HW = gg.size(-2) * gg.size(-1);
  const int64_t OHW = ix.size(-2) * ix.size(-1);
  const int64_t planes = ix.numel() == 0 ? 0 : ix.numel() / OHW;
  bool indices_ok = true;
  AT_DISPATCH_FLOATING_TYPES(gg.scalar_type(), "torchext_max_pool2d_double_backward", [&] {
    indices_ok = cpu_kernel<MaxPool2dDoubleBackwardKernel, scalar_t>()(
        planes, HW, OHW, gg.const_data_ptr<scalar_t>(), ix.const_data_ptr<int64_t>(),
        out.mutable_data_ptr<scalar_t>());
  });
  TORCH_CHECK(indices_ok, op, ": indices out of range: expected values in [0, ", HW,
              ") or -1 (flat positions within a grad_grad_input plane of size ", gg.size(-2), "x",
              gg.size(-1), ")");
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CPU, m) {
  m.impl("max_pool2d", &max_pool2d_cpu);
  m.impl("max_pool2d_backward", &max_pool2d_backward_cpu);
  m.impl("max_pool2d_double_backward", &max_pool2d_double_backward_cpu);
}

}  // namespace torchext::cpu
