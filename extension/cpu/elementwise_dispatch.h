// The elementwise arithmetic kernels (kernels/elementwise.cpp), dispatched to the capability in
// use (dispatch.h); called through elementwise_operands.h's elementwise<Kernel, T, N>().
#pragma once
#include <array>

#include "broadcast_layout.h"
#include "dispatch.h"

namespace torchext::cpu {

enum class BinaryOp { kAdd, kSub, kMul };  // a + alpha * b, a - alpha * b, a * b (alpha unused)

template <typename T>
struct BinaryKernel {
  using Fn = void(BinaryOp op, T alpha, const BroadcastLayout<2>& layout, T* out,
                  const std::array<const T*, 2>& in);
};

enum class ScalarOp { kAdd, kRsub, kMul };  // x + c, c - alpha * x, x * c (alpha unused)

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

}  // namespace torchext::cpu

TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::BinaryKernel);
TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::ScalarKernel);
TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::PowScalarKernel);
