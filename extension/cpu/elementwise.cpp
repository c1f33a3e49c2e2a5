// add, sub, mul (tensor-tensor, broadcasting, float32/float64 promotion) and their scalar forms,
// with pow by a scalar exponent (CPU).
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <cmath>

#include "../broadcast.h"
#include "../common.h"
#include "elementwise_loop.h"

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
    using T = scalar_t;
    const T a = alpha.to<T>();
    if (a == T(1)) {
      elementwise<T, 2>(o.out, {o.self, o.other}, [](T x, T y) { return x + y; });
    } else {
      elementwise<T, 2>(o.out, {o.self, o.other}, [a](T x, T y) { return x + a * y; });
    }
  });
  return o.out;
}

at::Tensor sub_cpu(const at::Tensor& self, const at::Tensor& other, const at::Scalar& alpha) {
  check_real_scalar("torchext.sub", "alpha", alpha);
  auto o = prepare_binary("torchext.sub", self, other);
  AT_DISPATCH_FLOATING_TYPES(o.out.scalar_type(), "torchext_sub", [&] {
    using T = scalar_t;
    const T a = alpha.to<T>();
    if (a == T(1)) {
      elementwise<T, 2>(o.out, {o.self, o.other}, [](T x, T y) { return x - y; });
    } else {
      elementwise<T, 2>(o.out, {o.self, o.other}, [a](T x, T y) { return x - a * y; });
    }
  });
  return o.out;
}

at::Tensor mul_cpu(const at::Tensor& self, const at::Tensor& other) {
  auto o = prepare_binary("torchext.mul", self, other);
  AT_DISPATCH_FLOATING_TYPES(o.out.scalar_type(), "torchext_mul", [&] {
    using T = scalar_t;
    elementwise<T, 2>(o.out, {o.self, o.other}, [](T x, T y) { return x * y; });
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
    const T c = alpha.to<T>() * other.to<T>();
    elementwise<T, 1>(out, {self}, [c](T x) { return x + c; });
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
    const T c = other.to<T>();
    const T a = alpha.to<T>();
    if (a == T(1)) {
      elementwise<T, 1>(out, {self}, [c](T x) { return c - x; });
    } else {
      elementwise<T, 1>(out, {self}, [c, a](T x) { return c - a * x; });
    }
  });
  return out;
}

at::Tensor mul_scalar_cpu(const at::Tensor& self, const at::Scalar& other) {
  const char* op = "torchext.mul_scalar";
  check_real_scalar(op, "other", other);
  auto out = prepare_unary(op, self);
  AT_DISPATCH_FLOATING_TYPES(self.scalar_type(), "torchext_mul_scalar", [&] {
    using T = scalar_t;
    const T c = other.to<T>();
    elementwise<T, 1>(out, {self}, [c](T x) { return x * c; });
  });
  return out;
}

// As torch.pow: exponent 0 gives 1 everywhere (0**0 and nan**0 too), 1 copies, and the common
// exponents take exact or cheaper forms (x*x, sqrt, 1/x, ...); otherwise std::pow, which gives
// inf for 0**negative and nan for negative**fractional.
at::Tensor pow_scalar_cpu(const at::Tensor& self, const at::Scalar& exponent) {
  const char* op = "torchext.pow_scalar";
  check_real_scalar(op, "exponent", exponent);
  const double e = exponent.to<double>();
  auto out = prepare_unary(op, self);
  AT_DISPATCH_FLOATING_TYPES(self.scalar_type(), "torchext_pow_scalar", [&] {
    using T = scalar_t;
    auto run = [&](auto f) { elementwise<T, 1>(out, {self}, f); };
    if (e == 0.0) {
      run([](T) { return T(1); });
    } else if (e == 1.0) {
      run([](T x) { return x; });
    } else if (e == 2.0) {
      run([](T x) { return x * x; });
    } else if (e == 3.0) {
      run([](T x) { return x * x * x; });
    } else if (e == 0.5) {
      run([](T x) { return std::sqrt(x); });
    } else if (e == -0.5) {
      run([](T x) { return T(1) / std::sqrt(x); });
    } else if (e == -1.0) {
      run([](T x) { return T(1) / x; });
    } else if (e == -2.0) {
      run([](T x) { return T(1) / (x * x); });
    } else {
      const T te = static_cast<T>(e);
      run([te](T x) { return std::pow(x, te); });
    }
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
