// dropout's loops: the Bernoulli draw from torch's MT19937 stream (serial, as the stream is) and
// the masked scaling (parallel).
#include <algorithm>

#include "../dropout_dispatch.h"
#include "loops.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY {
namespace {

constexpr int kM = 397;
constexpr uint32_t kMatrixA = 0x9908b0dfu, kUpper = 0x80000000u, kLower = 0x7fffffffu;

inline uint32_t twist(uint32_t u, uint32_t v) {
  return (((u & kUpper) | (v & kLower)) >> 1) ^ ((v & 1u) ? kMatrixA : 0u);
}

// The next 624 state words (ATen's mt19937_engine::next_state).
void next_state(Mt19937State& s) {
  constexpr int N = Mt19937State::kN;
  uint32_t* p = s.state;
  for (int j = 0; j < N - kM; ++j) p[j] = p[j + kM] ^ twist(p[j], p[j + 1]);
  for (int j = N - kM; j < N - 1; ++j) p[j] = p[j + kM - N] ^ twist(p[j], p[j + 1]);
  p[N - 1] = p[kM - 1] ^ twist(p[N - 1], p[0]);
  s.left = N;
  s.next = 0;
}

// One 32-bit draw (ATen's mt19937_engine::operator()).
inline uint32_t draw32(Mt19937State& s) {
  if (--s.left == 0) next_state(s);
  uint32_t y = s.state[s.next++];
  y ^= y >> 11;
  y ^= (y << 7) & 0x9d2c5680u;
  y ^= (y << 15) & 0xefc60000u;
  y ^= y >> 18;
  return y;
}

}  // namespace

// Native's bernoulli_(p) on a CPU tensor (no MKL path for floating dtypes in torch 2.14's build):
// per element a uniform double from random64() = (draw << 32 | draw), its low 53 bits times
// 2^-53, and keep = u < p. u * 2^53 is an integer, so the test is exact in integers scaled by 2^53.
void dropout_draw(Mt19937State& rng, double keep_prob, int64_t groups, uint8_t* keep) {
  constexpr uint64_t kMask53 = (uint64_t(1) << 53) - 1;
  const double threshold = keep_prob * 9007199254740992.0;  // keep_prob * 2^53, exact
  for (int64_t g = 0; g < groups; ++g) {
    const uint64_t hi = draw32(rng), lo = draw32(rng);
    keep[g] = double(((hi << 32) | lo) & kMask53) < threshold;
  }
}

template <typename T>
void masked_scale(const T* x, const uint8_t* keep, int64_t groups, int64_t inner, double keep_prob,
                  T* out) {
  const T scale = keep_prob > 0 ? T(1) / T(keep_prob) : T(0);
  // out may be x (in-place dropout): no restrict on them; each element is read, then written.
  if (inner == 1) {
    parallel_chunks(groups, [&](int64_t b, int64_t e) {
      for (int64_t i = b; i < e; ++i) out[i] = x[i] * (keep[i] ? scale : T(0));
    });
    return;
  }
  parallel_chunks(groups * inner, [&](int64_t b, int64_t e) {
    while (b < e) {
      const int64_t g = b / inner, end = std::min(e, (g + 1) * inner);
      const T noise = keep[g] ? scale : T(0);
      for (int64_t i = b; i < end; ++i) out[i] = x[i] * noise;
      b = end;
    }
  });
}

}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY

TORCHEXT_REGISTER_DISPATCH(torchext::cpu::DropoutDrawKernel, dropout_draw);
TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::MaskedScaleKernel, masked_scale);
