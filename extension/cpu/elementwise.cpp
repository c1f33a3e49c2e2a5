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

template <typename F>
at::Tensor binary(const char* op, const at::Tensor& self, const at::Tensor& other, const F& run) {
  auto operands = prepare_binary(op, self, other);
  AT_DISPATCH_FLOATING_TYPES(operands.out.scalar_type(), "torchext_binary", [&] {
    run(operands, scalar_t(0));
  });
  return operands.out;
}

at::Tensor add_cpu(const at::Tensor& self, const at::Tensor& other, const at::Scalar& alpha) {
  check_real_scalar("torchext.add", "alpha", alpha);
  return binary("torchext.add", self, other, [&](BinaryOperands& o, auto zero) {
    using T = decltype(zero);
    const T a = alpha.to<T>();
    if (a == T(1)) {
      elementwise<T, 2>(o.out, {o.self, o.other}, [](T x, T y) { return x + y; });
    } else {
      elementwise<T, 2>(o.out, {o.self, o.other}, [a](T x, T y) { return x + a * y; });
    }
  });
}

at::Tensor sub_cpu(const at::Tensor& self, const at::Tensor& other, const at::Scalar& alpha) {
  check_real_scalar("torchext.sub", "alpha", alpha);
  return binary("torchext.sub", self, other, [&](BinaryOperands& o, auto zero) {
    using T = decltype(zero);
    const T a = alpha.to<T>();
    if (a == T(1)) {
      elementwise<T, 2>(o.out, {o.self, o.other}, [](T x, T y) { return x - y; });
    } else {
      elementwise<T, 2>(o.out, {o.self, o.other}, [a](T x, T y) { return x - a * y; });
    }
  });
}

at::Tensor mul_cpu(const at::Tensor& self, const at::Tensor& other) {
  return binary("torchext.mul", self, other, [](BinaryOperands& o, auto zero) {
    using T = decltype(zero);
    elementwise<T, 2>(o.out, {o.self, o.other}, [](T x, T y) { return x * y; });
  });
}

// Tensor-scalar ops: a Python number never promotes a float tensor, so the result has self's dtype.
template <typename F>
at::Tensor unary(const char* op, const at::Tensor& self, const F& run) {
  check_float(op, "self", self);
  auto out = at::empty(self.sizes(), self.options());
  AT_DISPATCH_FLOATING_TYPES(self.scalar_type(), "torchext_unary", [&] { run(out, scalar_t(0)); });
  return out;
}

at::Tensor add_scalar_cpu(const at::Tensor& self, const at::Scalar& other, const at::Scalar& alpha) {
  const char* op = "torchext.add_scalar";
  check_real_scalar(op, "other", other);
  check_real_scalar(op, "alpha", alpha);
  return unary(op, self, [&](at::Tensor& out, auto zero) {
    using T = decltype(zero);
    const T c = alpha.to<T>() * other.to<T>();
    elementwise<T, 1>(out, {self}, [c](T x) { return x + c; });
  });
}

at::Tensor rsub_scalar_cpu(const at::Tensor& self, const at::Scalar& other, const at::Scalar& alpha) {
  const char* op = "torchext.rsub_scalar";
  check_real_scalar(op, "other", other);
  check_real_scalar(op, "alpha", alpha);
  return unary(op, self, [&](at::Tensor& out, auto zero) {
    using T = decltype(zero);
    const T c = other.to<T>();
    const T a = alpha.to<T>();
    if (a == T(1)) {
      elementwise<T, 1>(out, {self}, [c](T x) { return c - x; });
    } else {
      elementwise<T, 1>(out, {self}, [c, a](T x) { return c - a * x; });
    }
  });
}

at::Tensor mul_scalar_cpu(const at::Tensor& self, const at::Scalar& other) {
  const char* op = "torchext.mul_scalar";
  check_real_scalar(op, "other", other);
  return unary(op, self, [&](at::Tensor& out, auto zero) {
    using T = decltype(zero);
    const T c = other.to<T>();
    elementwise<T, 1>(out, {self}, [c](T x) { return x * c; });
  });
}

// As torch.pow: exponent 0 gives 1 everywhere (0**0 and nan**0 too), 1 copies, and the common
// exponents take exact or cheaper forms (x*x, sqrt, 1/x, ...); otherwise std::pow, which gives
// inf for 0**negative and nan for negative**fractional.
at::Tensor pow_scalar_cpu(const at::Tensor& self, const at::Scalar& exponent) {
  const char* op = "torchext.pow_scalar";
  check_real_scalar(op, "exponent", exponent);
  const double e = exponent.to<double>();
  return unary(op, self, [&](at::Tensor& out, auto zero) {
    using T = decltype(zero);
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
