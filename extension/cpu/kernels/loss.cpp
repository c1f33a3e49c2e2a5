// binary_cross_entropy_with_logits and its backward (CPU).
//
// With lw = (pos_weight - 1) * target + 1 and log sigmoid(x) = min(x, 0) - log1p(exp(-|x|)) (finite
// for any |x|):
//   loss           = weight * ((1 - target) * x - lw * log sigmoid(x))
//   d loss/dx      = weight * (lw * sigmoid(x) - pos_weight * target)
//   d loss/dtarget = weight * ((pos_weight - 1) * softplus(-x) - x),  softplus(-x) = -log sigmoid(x)
// (d/dx of -log sigmoid(x) is sigmoid(x) - 1; d lw/dtarget = pos_weight - 1.) An absent weight or
// pos_weight is 1, which makes these sigmoid(x) - target and -x. Reduction 1 (mean) divides by the
// number of elements, 2 sums, 0 keeps the elementwise loss.
#include <algorithm>
#include <array>
#include <cmath>

#include "../loss_dispatch.h"
#include "elementwise_loop.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY {
namespace {

template <typename T>
inline T log_sigmoid(T x) {
  return std::min(x, T(0)) - std::log1p(std::exp(-std::abs(x)));
}

template <typename T>
inline T sigmoid(T x) {
  return T(1) / (T(1) + std::exp(-x));
}

template <typename T>
void bce_loss(const BroadcastLayout<4>& layout, T* out, const std::array<const T*, 4>& in) {
  for_each_element(layout, out, in, [](T x, T t, T w, T p) {
    const T lw = (p - T(1)) * t + T(1);
    return ((T(1) - t) * x - lw * log_sigmoid(x)) * w;
  });
}

template <typename T>
void bce_grad(bool wrt_target, T n, const BroadcastLayout<5>& layout, T* out,
              const std::array<const T*, 5>& in) {
  if (!wrt_target) {
    for_each_element(layout, out, in, [n](T g, T x, T t, T w, T p) {
      const T lw = (p - T(1)) * t + T(1);
      return (lw * sigmoid(x) - p * t) * g * w / n;
    });
    return;
  }
  for_each_element(layout, out, in, [n](T g, T x, T, T w, T p) {
    // (pos_weight - 1) * softplus(-x) - x written as log sigmoid(-x) - pos_weight * log sigmoid(x)
    // (as native): the same value, but no 0 * Inf = NaN at x = -Inf when pos_weight is 1.
    return (log_sigmoid(-x) - p * log_sigmoid(x)) * g * w / n;
  });
}

}  // namespace
}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY

TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::BceLossKernel, bce_loss);
TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::BceGradKernel, bce_grad);
