// relu, in-place relu, the relu backward and the fused residual add+relu (CUDA host side).
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include "activation.h"
#include "host_utils.h"

namespace torchext::cuda {
namespace {

at::Tensor relu_cuda(const at::Tensor& self) {
  check_float("torchext.relu", "self", self);
  c10::cuda::CUDAGuard guard(self.device());
  auto x = self.contiguous();
  auto out = at::empty_like(x);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "torchext_relu", [&] {
    relu_launch(x.const_data_ptr<scalar_t>(), out.mutable_data_ptr<scalar_t>(), x.numel());
  });
  return out;
}

void relu__cuda(at::Tensor& self) {
  check_float("torchext.relu_", "self", self);
  c10::cuda::CUDAGuard guard(self.device());
  if (self.is_contiguous()) {
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, self.scalar_type(), "torchext_relu_", [&] {
      relu_launch(self.const_data_ptr<scalar_t>(), self.mutable_data_ptr<scalar_t>(), self.numel());
    });
  } else {
    self.copy_(relu_cuda(self));
  }
}

at::Tensor relu_backward_cuda(const at::Tensor& grad_output, const at::Tensor& result) {
  const char* op = "torchext.relu_backward";
  check_float(op, "result", result);
  check_float_on(op, "grad_output", grad_output, "result", result);
  check_same_dtype(op, "grad_output", grad_output, "result", result);
  TORCH_CHECK(grad_output.sizes() == result.sizes(), op, ": expected grad_output of shape ",
              result.sizes(), " but got ", grad_output.sizes());
  c10::cuda::CUDAGuard guard(result.device());
  auto g = grad_output.contiguous();
  auto r = result.contiguous();
  auto out = at::empty_like(r);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, r.scalar_type(), "torchext_relu_backward", [&] {
    relu_backward_launch(g.const_data_ptr<scalar_t>(), r.const_data_ptr<scalar_t>(),
                         out.mutable_data_ptr<scalar_t>(), r.numel());
  });
  return out;
}

at::Tensor add_relu_cuda(const at::Tensor& self, const at::Tensor& other) {
  const char* op = "torchext.add_relu";
  check_float(op, "self", self);
  check_float_on(op, "other", other, "self", self);
  check_same_dtype(op, "self", self, "other", other);
  TORCH_CHECK(self.sizes() == other.sizes(), op, ": expected other of shape ", self.sizes(),
              " (the residual must match the block output) but got ", other.sizes());
  c10::cuda::CUDAGuard guard(self.device());
  auto a = self.contiguous();
  auto b = other.contiguous();
  auto out = at::empty_like(a);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, a.scalar_type(), "torchext_add_relu", [&] {
    add_relu_launch(a.const_data_ptr<scalar_t>(), b.const_data_ptr<scalar_t>(),
                    out.mutable_data_ptr<scalar_t>(), a.numel());
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CUDA, m) {
  m.impl("relu", &relu_cuda);
  m.impl("relu_", &relu__cuda);
  m.impl("relu_backward", &relu_backward_cuda);
  m.impl("add_relu", &add_relu_cuda);
}

}  // namespace torchext::cuda
