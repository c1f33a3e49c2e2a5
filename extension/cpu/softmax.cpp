// softmax/log_softmax forward and backward (CPU): checks and allocation; the loops are
// kernels/softmax.cpp. dtype= converts the input first (as native); the input gradient is
// returned in the input's dtype.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <optional>

#include "../softmax_args.h"
#include "softmax_dispatch.h"

namespace torchext::cpu {
namespace {

at::Tensor softmax_impl(const char* op, const at::Tensor& self, int64_t dim,
                        std::optional<at::ScalarType> dtype, bool log) {
  const auto out_dtype = softmax_dtype(op, self, dtype);
  const auto s = softmax_split(op, self, dim);
  const at::Tensor x = self.to(out_dtype).contiguous();
  auto out = at::empty_like(x);
  AT_DISPATCH_FLOATING_TYPES(out_dtype, "torchext_softmax", [&] {
    cpu_kernel<SoftmaxKernel, scalar_t>()(x.const_data_ptr<scalar_t>(), s.outer, s.N, s.inner, log,
                                          out.mutable_data_ptr<scalar_t>());
  });
  return out;
}

at::Tensor softmax_backward_impl(const char* op, const at::Tensor& grad_output, const at::Tensor& output,
                                 int64_t dim, at::ScalarType input_dtype, bool log) {
  const auto s = check_softmax_backward(op, grad_output, output, dim, input_dtype);
  const at::Tensor dy = grad_output.contiguous(), y = output.contiguous();
  auto dx = at::empty_like(y);
  AT_DISPATCH_FLOATING_TYPES(y.scalar_type(), "torchext_softmax_backward", [&] {
    cpu_kernel<SoftmaxBackwardKernel, scalar_t>()(dy.const_data_ptr<scalar_t>(), y.const_data_ptr<scalar_t>(),
                                                  s.outer, s.N, s.inner, log, dx.mutable_data_ptr<scalar_t>());
  });
  return dx.to(input_dtype);
}

at::Tensor softmax_cpu(const at::Tensor& self, int64_t dim, std::optional<at::ScalarType> dtype) {
  return softmax_impl("torchext.softmax", self, dim, dtype, false);
}
at::Tensor log_softmax_cpu(const at::Tensor& self, int64_t dim, std::optional<at::ScalarType> dtype) {
  return softmax_impl("torchext.log_softmax", self, dim, dtype, true);
}
at::Tensor softmax_backward_cpu(const at::Tensor& grad_output, const at::Tensor& output, int64_t dim,
                                at::ScalarType input_dtype) {
  return softmax_backward_impl("torchext.softmax_backward", grad_output, output, dim, input_dtype, false);
}
at::Tensor log_softmax_backward_cpu(const at::Tensor& grad_output, const at::Tensor& output, int64_t dim,
                                    at::ScalarType input_dtype) {
  return softmax_backward_impl("torchext.log_softmax_backward", grad_output, output, dim, input_dtype, true);
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CPU, m) {
  m.impl("softmax", &softmax_cpu);
  m.impl("log_softmax", &log_softmax_cpu);
  m.impl("softmax_backward", &softmax_backward_cpu);
  m.impl("log_softmax_backward", &log_softmax_backward_cpu);
}

}  // namespace torchext::cpu
