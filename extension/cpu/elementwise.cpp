// add, sub, mul, div, pow (tensor-tensor, broadcasting, float32/float64 promotion) and their
// scalar forms, with pow's backward (CPU).
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <cmath>
#include <tuple>

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

BinaryOperands prepare_binary(const char* op, const at::Tensor& self, const at::Tensor& other,
                              const char* other_name = "other") {
  check_float(op, "self", self);
  check_float(op, other_name, other);
  check_compatible_devices(op, "self", self, other_name, other);
  auto shape = broadcast_shape(op, {{"self", &self}, {other_name, &other}});
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

at::Tensor div_cpu(const at::Tensor& self, const at::Tensor& other) {
  auto o = prepare_binary("torchext.div", self, other);
  AT_DISPATCH_FLOATING_TYPES(o.out.scalar_type(), "torchext_div", [&] {
    elementwise<BinaryKernel, scalar_t, 2>(o.out, {o.self, o.other}, BinaryOp::kDiv, scalar_t(1));
  });
  return o.out;
}

at::Tensor pow_cpu(const at::Tensor& self, const at::Tensor& exponent) {
  auto o = prepare_binary("torchext.pow", self, exponent, "exponent");
  AT_DISPATCH_FLOATING_TYPES(o.out.scalar_type(), "torchext_pow", [&] {
    elementwise<BinaryKernel, scalar_t, 2>(o.out, {o.self, o.other}, BinaryOp::kPow, scalar_t(1));
  });
  return o.out;
}

// Both gradients over grad_output's (the broadcast) shape; the caller reduces them to the
// operands' shapes.
std::tuple<at::Tensor, at::Tensor> pow_backward_cpu(const at::Tensor& grad_output, const at::Tensor& self,
                                                    const at::Tensor& exponent, const at::Tensor& result,
                                                    std::array<bool, 2> output_mask) {
  const char* op = "torchext.pow_backward";
  const std::array<std::pair<const char*, const at::Tensor*>, 4> named{
      {{"grad_output", &grad_output}, {"self", &self}, {"exponent", &exponent}, {"result", &result}}};
  for (const auto& [name, t] : named) {
    check_float(op, name, *t);
    check_compatible_devices(op, "grad_output", grad_output, name, *t);
    check_broadcastable_to(op, name, *t, grad_output.sizes(), "grad_output");
  }
  TORCH_CHECK(result.sizes() == grad_output.sizes(), op, ": expected result of grad_output's shape ",
              grad_output.sizes(), " but got ", result.sizes());
  const auto dtype = grad_output.scalar_type();
  at::Tensor grads[2];
  for (int k = 0; k < 2; ++k) {
    if (!output_mask[k]) continue;
    // The 4th operand: exponent - 1 for self's gradient (in the exponent's dtype, as native
    // subtracts before promoting), the result for the exponent's.
    at::Tensor fourth = result;
    if (k == 0) {
      fourth = at::empty(exponent.sizes(), exponent.options());
      AT_DISPATCH_FLOATING_TYPES(exponent.scalar_type(), "torchext_pow_backward", [&] {
        elementwise<ScalarKernel, scalar_t, 1>(fourth, {exponent}, ScalarOp::kAdd, scalar_t(-1), scalar_t(1));
      });
    }
    const std::array<at::Tensor, 4> in{grad_output, self.to(dtype), exponent.to(dtype), fourth.to(dtype)};
    grads[k] = at::empty(grad_output.sizes(), grad_output.options());
    AT_DISPATCH_FLOATING_TYPES(dtype, "torchext_pow_backward", [&] {
      elementwise<PowBackwardKernel, scalar_t, 4>(grads[k], in, k == 1);
    });
  }
  return {grads[0], grads[1]};
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

at::Tensor div_scalar_cpu(const at::Tensor& self, const at::Scalar& other) {
  const char* op = "torchext.div_scalar";
  check_real_scalar(op, "other", other);
  auto out = prepare_unary(op, self);
  AT_DISPATCH_FLOATING_TYPES(self.scalar_type(), "torchext_div_scalar", [&] {
    using T = scalar_t;
    elementwise<ScalarKernel, T, 1>(out, {self}, ScalarOp::kDiv, other.to<T>(), T(1));
  });
  return out;
}

at::Tensor rdiv_scalar_cpu(const at::Tensor& self, const at::Scalar& other) {
  const char* op = "torchext.rdiv_scalar";
  check_real_scalar(op, "other", other);
  auto out = prepare_unary(op, self);
  AT_DISPATCH_FLOATING_TYPES(self.scalar_type(), "torchext_rdiv_scalar", [&] {
    using T = scalar_t;
    elementwise<ScalarKernel, T, 1>(out, {self}, ScalarOp::kRdiv, other.to<T>(), T(1));
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
  m.impl("div", &div_cpu);
  m.impl("div_scalar", &div_scalar_cpu);
  m.impl("rdiv_scalar", &rdiv_scalar_cpu);
  m.impl("pow", &pow_cpu);
  m.impl("pow_backward", &pow_backward_cpu);
}

}  // namespace torchext::cpu
