// relu, in-place relu, the relu backward and the fused residual add+relu (CPU): checks and
// allocation; the loops are kernels/activation.cpp.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include "../common.h"
#include "activation_dispatch.h"

namespace torchext::cpu {
namespace {

at::Tensor relu_cpu(const at::Tensor& self) {
  check_float("torchext.relu", "self", self);
  auto x = self.contiguous();
  auto out = at::empty_like(x);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "torchext_relu", [&] {
    cpu_kernel<ReluKernel, scalar_t>()(x.const_data_ptr<scalar_t>(),
                                       out.mutable_data_ptr<scalar_t>(), x.numel());
  });
  return out;
}

void relu__cpu(at::Tensor& self) {
  check_float("torchext.relu_", "self", self);
  if (self.is_contiguous()) {
    AT_DISPATCH_FLOATING_TYPES(self.scalar_type(), "torchext_relu_", [&] {
      cpu_kernel<ReluKernel, scalar_t>()(self.const_data_ptr<scalar_t>(),
                                         self.mutable_data_ptr<scalar_t>(), self.numel());
    });
  } else {
    self.copy_(relu_cpu(self));
  }
}

at::Tensor relu_backward_cpu(const at::Tensor& grad_output, const at::Tensor& result) {
  const char* op = "torchext.relu_backward";
  check_float(op, "grad_output", grad_output);
  check_float(op, "result", result);
  check_same_dtype(op, "grad_output", grad_output, "result", result);
  TORCH_CHECK(grad_output.sizes() == result.sizes(), op, ": expected grad_output of shape ",
              result.sizes(), " but got ", grad_output.sizes());
  auto g = grad_output.contiguous();
  auto r = result.contiguous();
  auto out = at::empty_like(r);
  AT_DISPATCH_FLOATING_TYPES(r.scalar_type(), "torchext_relu_backward", [&] {
    cpu_kernel<ReluBackwardKernel, scalar_t>()(g.const_data_ptr<scalar_t>(),
                                               r.const_data_ptr<scalar_t>(),
                                               out.mutable_data_ptr<scalar_t>(), r.numel());
  });
  return out;
}

at::Tensor add_relu_cpu(const at::Tensor& self, const at::Tensor& other) {
  const char* op = "torchext.add_relu";
  check_float(op, "self", self);
  check_float(op, "other", other);
  check_same_dtype(op, "self", self, "other", other);
  TORCH_CHECK(self.sizes() == other.sizes(), op, ": expected other of shape ", self.sizes(),
              " (the residual must match the block output) but got ", other.sizes());
  auto a = self.contiguous();
  auto b = other.contiguous();
  auto out = at::empty_like(a);
  AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "torchext_add_relu", [&] {
    cpu_kernel<AddReluKernel, scalar_t>()(a.const_data_ptr<scalar_t>(),
                                          b.const_data_ptr<scalar_t>(),
                                          out.mutable_data_ptr<scalar_t>(), a.numel());
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CPU, m) {
  m.impl("relu", &relu_cpu);
  m.impl("relu_", &relu__cpu);
  m.impl("relu_backward", &relu_backward_cpu);
  m.impl("add_relu", &add_relu_cpu);
}

}  // namespace torchext::cpu
