// binary_cross_entropy_with_logits's elementwise kernels (kernels/loss.cpp), dispatched to the
// capability in use (dispatch.h); called through elementwise_operands.h's elementwise().
#pragma once
#include <array>

#include "broadcast_layout.h"
#include "dispatch.h"

namespace torchext::cpu {

// The elementwise loss over inputs (x, target, weight, pos_weight).
template <typename T>
struct BceLossKernel {
  using Fn = void(const BroadcastLayout<4>& layout, T* out, const std::array<const T*, 4>& in);
};

// d loss / d x (or d loss / d target) over inputs (grad, x, target, weight, pos_weight), divided
// by n (the element count for a mean, else 1).
template <typename T>
struct BceGradKernel {
  using Fn = void(bool wrt_target, T n, const BroadcastLayout<5>& layout, T* out,
                  const std::array<const T*, 5>& in);
};

}  // namespace torchext::cpu

TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::BceLossKernel);
TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::BceGradKernel);
