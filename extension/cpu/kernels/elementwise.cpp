// add, sub, mul, div and pow (tensor and scalar forms; pow's tensor form and backward in pow.cpp),
// over a broadcast layout.
#include <array>
#include <cmath>

#include "../elementwise_dispatch.h"
#include "elementwise_loop.h"
#include "pow.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY {
namespace {

template <typename T>
void binary(BinaryOp op, T a, const BroadcastLayout<2>& layout, T* out,
            const std::array<const T*, 2>& in) {
  auto run = [&](auto f) { for_each_element(layout, out, in, f); };
  switch (op) {
    case BinaryOp::kAdd:
      if (a == T(1)) return run([](T x, T y) { return x + y; });
      return run([a](T x, T y) { return x + a * y; });
    case BinaryOp::kSub:
      if (a == T(1)) return run([](T x, T y) { return x - y; });
      return run([a](T x, T y) { return x - a * y; });
    case BinaryOp::kMul:
      return run([](T x, T y) { return x * y; });
    case BinaryOp::kDiv:
      return run([](T x, T y) { return x / y; });
    case BinaryOp::kPow:
      return pow_tensor(layout, out, in);
  }
}

template <typename T>
void scalar(ScalarOp op, T c, T a, const BroadcastLayout<1>& layout, T* out,
            const std::array<const T*, 1>& in) {
  auto run = [&](auto f) { for_each_element(layout, out, in, f); };
  switch (op) {
    case ScalarOp::kAdd:
      return run([c](T x) { return x + c; });
    case ScalarOp::kRsub:
      if (a == T(1)) return run([c](T x) { return c - x; });
      return run([c, a](T x) { return c - a * x; });
    case ScalarOp::kMul:
      return run([c](T x) { return x * c; });
    case ScalarOp::kDiv:  // a true division, as native (not a multiplication by 1 / c)
      return run([c](T x) { return x / c; });
    case ScalarOp::kRdiv:
      return run([c](T x) { return c / x; });
  }
}

// As torch.pow: exponent 0 gives 1 everywhere (0**0 and nan**0 too), 1 copies, and the common
// exponents take exact or cheaper forms (x*x, sqrt, 1/x, ...); otherwise std::pow, which gives
// inf for 0**negative and nan for negative**fractional.
template <typename T>
void pow_scalar(double e, const BroadcastLayout<1>& layout, T* out, const std::array<const T*, 1>& in) {
  auto run = [&](auto f) { for_each_element(layout, out, in, f); };
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
}

}  // namespace
}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY

TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::BinaryKernel, binary);
TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::ScalarKernel, scalar);
TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::PowScalarKernel, pow_scalar);
