// relu, its backward and the fused residual add+relu over contiguous values.
#include <cstdint>

#include "../activation_dispatch.h"
#include "loops.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY {
namespace {

template <typename T>
void relu(const T* in, T* out, int64_t n) {
  parallel_chunks(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      T x = in[i];
      // NaN propagates, as native: (NaN > 0) is false but x != x keeps it.
      out[i] = (x > T(0) || x != x) ? x : T(0);
    }
  });
}

template <typename T>
void relu_backward(const T* __restrict__ gp, const T* __restrict__ rp, T* __restrict__ op_,
                   int64_t n) {
  parallel_chunks(n, [&](int64_t b, int64_t e) {
    // Zero where result <= 0 (as native's threshold_backward), so a NaN result passes grad.
    // Both loads are unconditional so the select vectorizes instead of branching per element.
    for (int64_t i = b; i < e; ++i) {
      const T grad = gp[i];
      op_[i] = rp[i] <= T(0) ? T(0) : grad;
    }
  });
}

template <typename T>
void add_relu(const T* __restrict__ ap, const T* __restrict__ bp, T* __restrict__ o, int64_t n) {
  parallel_chunks(n, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      T s = ap[i] + bp[i];
      o[i] = (s > T(0) || s != s) ? s : T(0);
    }
  });
}

}  // namespace
}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY

TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::ReluKernel, relu);
TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::ReluBackwardKernel, relu_backward);
TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::AddReluKernel, add_relu);
