// The elementwise arithmetic kernels (kernels/elementwise.cpp, pow.cpp), dispatched to the
// capability in use (dispatch.h); called through elementwise_operands.h's elementwise<Kernel, T, N>().
#pragma once
#include <array>

#include "broadcast_layout.h"
#include "dispatch.h"

namespace torchext::cpu {

// a + alpha * b, a - alpha * b, a * b, a / b, a ** b (alpha unused by the last three)
enum class BinaryOp { kAdd, kSub, kMul, kDiv, kPow };

template <typename T>
struct BinaryKernel {
  using Fn = void(BinaryOp op, T alpha, const BroadcastLayout<2>& layout, T* out,
                  const std::array<const T*, 2>& in);
};

// x + c, c - alpha * x, x * c, x / c, c / x (alpha unused but by kRsub)
enum class ScalarOp { kAdd, kRsub, kMul, kDiv, kRdiv };

template <typename T>
struct ScalarKernel {
  using Fn = void(ScalarOp op, T c, T alpha, const BroadcastLayout<1>& layout, T* out,
                  const std::array<const T*, 1>& in);
};

// x ** exponent, as torch.pow with a Python number.
template <typename T>
struct PowScalarKernel {
  using Fn = void(double exponent, const BroadcastLayout<1>& layout, T* out,
                  const std::array<const T*, 1>& in);
};

// The gradients of pow(self, exponent) over the broadcast shape, as native. For self, in[] =
// {grad, self, exponent, exponent - 1}: 0 where exponent == 0, else grad * (exponent * self **
// (exponent - 1)); for exponent, in[] = {grad, self, exponent, result}: grad * (0 where self == 0
// and exponent >= 0, else result * log(self)).
template <typename T>
struct PowBackwardKernel {
  using Fn = void(bool exponent_grad, const BroadcastLayout<4>& layout, T* out,
                  const std::array<const T*, 4>& in);
};

}  // namespace torchext::cpu

TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::BinaryKernel);
TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::ScalarKernel);
TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::PowScalarKernel);
TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::PowBackwardKernel);
