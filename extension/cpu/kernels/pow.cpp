// pow with a tensor exponent and pow's gradients. float goes through simd_math.h's pow and log
// (in double, vectorized; correctly rounded but for near-ties), double through libm (exp(y log x)
// in double would lose up to |y log x| ulps). Blocked loops (block_loop.h): the values do not
// depend on the thread count. setup.py compiles this file with -fno-trapping-math (cpu_flags.py),
// without which the selects of pow's special cases stay branches and the loops scalar.
#include <array>
#include <cmath>

#include "../elementwise_dispatch.h"
#include "block_loop.h"
#include "pow.h"
#include "simd_math.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY {
namespace {

template <typename T>
struct PowMath;

template <>
struct PowMath<float> {
  static float pow(float x, float y) { return SimdMath::pow(x, y); }
  static float log(float x) { return static_cast<float>(SimdMath::log(x)); }
};

template <>
struct PowMath<double> {
  static double pow(double x, double y) { return std::pow(x, y); }
  static double log(double x) { return std::log(x); }
};

template <typename T>
void pow_backward(bool exponent_grad, const BroadcastLayout<4>& layout, T* out,
                  const std::array<const T*, 4>& in) {
  if (exponent_grad) {
    for_each_element_blocked(layout, out, in, [](T g, T x, T e, T r) {
      return g * (((x == T(0)) & (e >= T(0))) ? T(0) : r * PowMath<T>::log(x));
    });
  } else {
    for_each_element_blocked(layout, out, in, [](T g, T x, T e, T e_minus_one) {
      return e == T(0) ? T(0) : g * (e * PowMath<T>::pow(x, e_minus_one));
    });
  }
}

template <typename T>
void pow_tensor_impl(const BroadcastLayout<2>& layout, T* out, const std::array<const T*, 2>& in) {
  for_each_element_blocked(layout, out, in, [](T x, T y) { return PowMath<T>::pow(x, y); });
}

}  // namespace

void pow_tensor(const BroadcastLayout<2>& layout, float* out, const std::array<const float*, 2>& in) {
  pow_tensor_impl(layout, out, in);
}

void pow_tensor(const BroadcastLayout<2>& layout, double* out, const std::array<const double*, 2>& in) {
  pow_tensor_impl(layout, out, in);
}

}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY

TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::PowBackwardKernel, pow_backward);
