// add, sub, mul (tensor-tensor, broadcasting, float32/float64 promotion) and their scalar forms,
// with pow by a scalar exponent (CPU).
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <cmath>

#include "../broadcast.h"
#include "../common.h"
#include "elementwise_dispatch.h"
#include "elementwise_operands.h"

namespace torchext::cpu {
namespace {

// Checks self and other, promotes them to their common dtype (a 0-dim tensor does not promote a
// dimensioned one, as native) and allocates the contiguous broadcast output.
struct BinaryOperands {
  at::Tensor self, other, out;
};

BinaryOperands prepare_binary(const char* op, const at::Tensor& self, const at::Tensor& other) {
  check_float(op, "self", self);
  check_float(op, "other", other);
  check_compatible_devices(op, "self", self, "other", other);
  auto shape = broadcast_shape(op, {{"self", &self}, {"other", &other}});
  const auto dtype = at::result_type(self, other);
  const auto& device = (self.dim() == 0 && self.device().is_cpu()) ? other.device() : self.device();
  auto a = self.to(dtype);
  auto b = other.to(dtype);
  return {a, b, at::empty(shape, a.options().device(device))};
}

at::Tensor add_cpu(const at::Tensor& self, const at::Tensor& other, const at::Scalar& alpha) {
  check_real_scalar("torchext.add", "alpha", alpha);
  auto o = prepare_binary("torchext.add", self, other);
  AT_DISPATCH_FLOATING_TYPES(o.out.scalar_type(), "torchext_add", [&] {
    elementwise<BinaryKernel, scalar_t, 2>(o.out, {o.self, o.other}, BinaryOp::kAdd,
                                           alpha.to<scalar_t>());
  });
  return o.out;
}

at::Tensor sub_cpu(const at::Tensor& self, const at::Tensor& other, const at::Scalar& alpha) {
  check_real_scalar("torchext.sub", "alpha", alpha);
  auto o = prepare_binary("torchext.sub", self, other);
  AT_DISPATCH_FLOATING_TYPES(o.out.scalar_type(), "torchext_sub", [&] {
    elementwise<BinaryKernel, scalar_t, 2>(o.out, {o.self, o.other}, BinaryOp::kSub,
                                           alpha.to<scalar_t>());
  });
  return o.out;
}

at::Tensor mul_cpu(const at::Tensor& self, const at::Tensor& other) {
  auto o = prepare_binary("torchext.mul", self, other);
  AT_DISPATCH_FLOATING_TYPES(o.out.scalar_type(), "torchext_mul", [&] {
    elementwise<BinaryKernel, scalar_t, 2>(o.out, {o.self, o.other}, BinaryOp::kMul,
                                           scalar_t(1));
  });
  return o.out;
}

// Tensor-scalar ops: a Python number never promotes a float tensor, so the output (contiguous)
// has self's shape and dtype.
at::Tensor prepare_unary(const char* op, const at::Tensor& self) {
  check_float(op, "self", self);
  return at::empty(self.sizes(), self.options());
}

at::Tensor add_scalar_cpu(const at::Tensor& self, const at::Scalar& other, const at::Scalar& alpha) {
  const char* op = "torchext.add_scalar";
  check_real_scalar(op, "other", other);
  check_real_scalar(op, "alpha", alpha);
  auto out = prepare_unary(op, self);
  AT_DISPATCH_FLOATING_TYPES(self.scalar_type(), "torchext_add_scalar", [&] {
    using T = scalar_t;
    elementwise<ScalarKernel, T, 1>(out, {self}, ScalarOp::kAdd, alpha.to<T>() * other.to<T>(),
                                    T(1));
  });
  return out;
}

at::Tensor rsub_scalar_cpu(const at::Tensor& self, const at::Scalar& other, const at::Scalar& alpha) {
  const char* op = "torchext.rsub_scalar";
  check_real_scalar(op, "other", other);
  check_real_scalar(op, "alpha", alpha);
  auto out = prepare_unary(op, self);
  AT_DISPATCH_FLOATING_TYPES(self.scalar_type(), "torchext_rsub_scalar", [&] {
    using T = scalar_t;
    elementwise<ScalarKernel, T, 1>(out, {self}, ScalarOp::kRsub, other.to<T>(),
                                    alpha.to<T>());
  });
  return out;
}

at::Tensor mul_scalar_cpu(const at::Tensor& self, const at::Scalar& other) {
  const char* op = "torchext.mul_scalar";
  check_real_scalar(op, "other", other);
  auto out = prepare_unary(op, self);
  AT_DISPATCH_FLOATING_TYPES(self.scalar_type(), "torchext_mul_scalar", [&] {
    using T = scalar_t;
    elementwise<ScalarKernel, T, 1>(out, {self}, ScalarOp::kMul, other.to<T>(), T(1));
  });
  return out;
}

// As torch.pow (kernels/elementwise.cpp has the special exponents).
at::Tensor pow_scalar_cpu(const at::Tensor& self, const at::Scalar& exponent) {
  const char* op = "torchext.pow_scalar";
  check_real_scalar(op, "exponent", exponent);
  const double e = exponent.to<double>();
  auto out = prepare_unary(op, self);
  AT_DISPATCH_FLOATING_TYPES(self.scalar_type(), "torchext_pow_scalar", [&] {
    elementwise<PowScalarKernel, scalar_t, 1>(out, {self}, e);
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CPU, m) {
  m.impl("add", &add_cpu);
  m.impl("sub", &sub_cpu);
  m.impl("mul", &mul_cpu);
  m.impl("add_scalar", &add_scalar_cpu);
  m.impl("rsub_scalar", &rsub_scalar_cpu);
  m.impl("mul_scalar", &mul_scalar_cpu);
  m.impl("pow_scalar", &pow_scalar_cpu);
}

}  // namespace torchext::cpu
