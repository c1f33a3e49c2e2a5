// add/sub/mul (broadcasting, type promotion) and the tensor-scalar ops (CUDA host side).
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include "elementwise.h"
#include "host_utils.h"

namespace torchext::cuda {
namespace {

// out = a + alpha * b (Add) or a * b (Mul) over the broadcast shape, in the promoted dtype.
at::Tensor binary_cuda(const char* op, const at::Tensor& self, const at::Tensor& other,
                       BinaryOp kind, double alpha) {
  check_float(op, "self", self);
  check_float(op, "other", other);
  const auto shape = broadcast_shape(op, {{"self", &self}, {"other", &other}});
  const auto dtype = at::result_type(self, other);
  // One of them may be a 0-dim CPU tensor (a wrapped number); the other is on the GPU.
  const bool self_on_cpu = self.device().is_cpu();
  const auto& ref = self_on_cpu ? other : self;
  c10::cuda::CUDAGuard guard(ref.device());
  const auto a = on_device_of(op, "self", self, "other", other).to(dtype).expand(shape);
  const auto b = on_device_of(op, "other", other, "self", self).to(dtype).expand(shape);
  auto out = at::empty(shape, a.options());
  const auto ix = make_indexer<2>(shape, {a.strides(), b.strides()});
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "torchext_binary", [&] {
    binary_launch(kind, a.const_data_ptr<scalar_t>(), b.const_data_ptr<scalar_t>(),
                  out.mutable_data_ptr<scalar_t>(), out.numel(), ix, alpha);
  });
  return out;
}

at::Tensor scalar_cuda(const char* op, const at::Tensor& self, ScalarOp kind,
                       const at::Scalar& other, const at::Scalar& alpha) {
  check_float(op, "self", self);
  check_real_scalar(op, kind == ScalarOp::Pow ? "exponent" : "other", other);
  check_real_scalar(op, "alpha", alpha);
  c10::cuda::CUDAGuard guard(self.device());
  const auto x = self.contiguous();
  auto out = at::empty_like(x);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "torchext_scalar_op", [&] {
    scalar_op_launch(kind, x.const_data_ptr<scalar_t>(), out.mutable_data_ptr<scalar_t>(),
                     x.numel(), other.toDouble(), alpha.toDouble());
  });
  return out;
}

at::Tensor add_cuda(const at::Tensor& self, const at::Tensor& other, const at::Scalar& alpha) {
  check_real_scalar("torchext.add", "alpha", alpha);
  return binary_cuda("torchext.add", self, other, BinaryOp::Add, alpha.toDouble());
}

at::Tensor sub_cuda(const at::Tensor& self, const at::Tensor& other, const at::Scalar& alpha) {
  check_real_scalar("torchext.sub", "alpha", alpha);
  return binary_cuda("torchext.sub", self, other, BinaryOp::Add, -alpha.toDouble());
}

at::Tensor mul_cuda(const at::Tensor& self, const at::Tensor& other) {
  return binary_cuda("torchext.mul", self, other, BinaryOp::Mul, 1.0);
}

at::Tensor add_scalar_cuda(const at::Tensor& self, const at::Scalar& other, const at::Scalar& alpha) {
  return scalar_cuda("torchext.add_scalar", self, ScalarOp::Add, other, alpha);
}

at::Tensor rsub_scalar_cuda(const at::Tensor& self, const at::Scalar& other, const at::Scalar& alpha) {
  return scalar_cuda("torchext.rsub_scalar", self, ScalarOp::RSub, other, alpha);
}

at::Tensor mul_scalar_cuda(const at::Tensor& self, const at::Scalar& other) {
  return scalar_cuda("torchext.mul_scalar", self, ScalarOp::Mul, other, 1);
}

at::Tensor pow_scalar_cuda(const at::Tensor& self, const at::Scalar& exponent) {
  return scalar_cuda("torchext.pow_scalar", self, ScalarOp::Pow, exponent, 1);
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CUDA, m) {
  m.impl("add", &add_cuda);
  m.impl("sub", &sub_cuda);
  m.impl("mul", &mul_cuda);
  m.impl("add_scalar", &add_scalar_cuda);
  m.impl("rsub_scalar", &rsub_scalar_cuda);
  m.impl("mul_scalar", &mul_scalar_cuda);
  m.impl("pow_scalar", &pow_scalar_cuda);
}

}  // namespace torchext::cuda
