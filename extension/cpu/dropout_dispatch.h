// dropout's kernels (kernels/dropout.cpp), dispatched to the capability in use (dispatch.h).
#pragma once
#include <cstdint>

#include "dispatch.h"

namespace torchext::cpu {

// torch's CPU generator: a Mersenne Twister (MT19937) as ATen's mt19937 engine keeps it.
struct Mt19937State {
  static constexpr int kN = 624;
  uint32_t state[kN];
  int32_t left;   // draws until the next twist, plus one
  uint32_t next;  // index of the next state word to temper
};

// keep[g] = 1 with probability keep_prob, for g < groups, drawn as native's
// bernoulli_(keep_prob) draws them from the generator (which advances).
struct DropoutDrawKernel {
  using Fn = void(Mt19937State& rng, double keep_prob, int64_t groups, uint8_t* keep);
};

// out[g * inner + i] = x[g * inner + i] * (keep[g] ? 1 / keep_prob : 0), with 1 / keep_prob
// rounded to T first (native's noise.div_(keep_prob)); out may be x.
template <typename T>
struct MaskedScaleKernel {
  using Fn = void(const T* x, const uint8_t* keep, int64_t groups, int64_t inner, double keep_prob,
                  T* out);
};

}  // namespace torchext::cpu

TORCHEXT_DECLARE_DISPATCH(torchext::cpu::DropoutDrawKernel);
TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::MaskedScaleKernel);
