// exp on row_reduce.h's 256-bit vectors: SimdMath::exp's range reduction and polynomial
// (simd_math.h) written on vector types, so it runs vectorized whatever the loop vectorizer
// decides (it keeps the scalar form's loops scalar without -fno-trapping-math). Tails go through
// the same code on a padded vector, so a value's result does not depend on where it sits.
#pragma once
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <iterator>
#include <limits>
#include <type_traits>

#include "row_reduce.h"
#include "simd_math.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY::vexp {

using rowred::kVL;
using rowred::Vec;

template <typename T>
using Bits = typename simd_math_detail::Traits<T>::Bits;
template <typename T>
using VBits [[gnu::vector_size(32)]] = Bits<T>;
template <typename T>
using VSigned [[gnu::vector_size(32)]] = std::make_signed_t<Bits<T>>;

template <typename T>
[[gnu::always_inline]] inline Vec<T> pow2(VBits<T> n) {
  using C = simd_math_detail::Traits<T>;
  return reinterpret_cast<Vec<T>>((n + C::kBias) << C::kMantissa);
}

// e^x lane by lane, as SimdMath::exp: NaN in, NaN out; -inf gives 0, overflow inf.
template <typename T>
[[gnu::always_inline]] inline Vec<T> exp(Vec<T> x) {
  using C = simd_math_detail::Traits<T>;
  using B = Bits<T>;
  const Vec<T> lo = Vec<T>{} + C::kExpLo, hi = Vec<T>{} + C::kExpHi;
  Vec<T> xc = x < lo ? lo : x;
  xc = xc > hi ? hi : xc;
  T shift_s;
  const B shift_bits = (B(C::kMantissa) + C::kBias) << C::kMantissa;
  std::memcpy(&shift_s, &shift_bits, sizeof shift_s);
  const Vec<T> shift = Vec<T>{} + T(1.5) * shift_s;
  const Vec<T> k = xc * T(1.4426950408889634074) + shift;
  const Vec<T> kf = k - shift;
  const VBits<T> n = reinterpret_cast<VBits<T>>(k) - reinterpret_cast<VBits<T>>(shift);
  const Vec<T> r = (xc - kf * C::kLn2Hi) - kf * C::kLn2Lo;
  const VBits<T> n1 = reinterpret_cast<VBits<T>>(reinterpret_cast<VSigned<T>>(n) >> 1);
  Vec<T> p = Vec<T>{} + C::kExp[0];
  for (size_t i = 1; i < std::size(C::kExp); ++i) p = p * r + C::kExp[i];
  const Vec<T> e = p * pow2<T>(n1) * pow2<T>(n - n1);
  return x != x ? x : e;
}

// out[i] = exp(in[i] - sub) for i < n (out may be in).
template <typename T>
inline void exp_shifted(const T* in, T sub, T* out, int64_t n) {
  constexpr int VL = kVL<T>;
  int64_t i = 0;
  for (; i + VL <= n; i += VL) {
    const Vec<T> v = rowred::load<Vec<T>>(in + i) - sub;
    const Vec<T> e = exp<T>(v);
    std::memcpy(out + i, &e, sizeof e);
  }
  if (i < n) {
    T pad[VL] = {};
    std::copy(in + i, in + n, pad);
    const Vec<T> e = exp<T>(rowred::load<Vec<T>>(pad) - sub);
    std::memcpy(pad, &e, sizeof e);
    std::copy(pad, pad + (n - i), out + i);
  }
}

// The largest of x[0, n), NaN if any is NaN; -inf for n == 0.
template <typename T>
inline T row_max(const T* x, int64_t n) {
  constexpr int VL = kVL<T>;
  const T neg_inf = -std::numeric_limits<T>::infinity();
  Vec<T> m = Vec<T>{} + neg_inf;
  int64_t i = 0;
  for (; i + VL <= n; i += VL) {
    const Vec<T> v = rowred::load<Vec<T>>(x + i);
    m = (v > m) | (v != v) ? v : m;
  }
  T t[VL];
  std::memcpy(t, &m, sizeof m);
  T r = neg_inf;
  for (int j = 0; j < VL; ++j) r = (t[j] > r || t[j] != t[j]) ? t[j] : r;
  for (; i < n; ++i) r = (x[i] > r || x[i] != x[i]) ? x[i] : r;
  return r;
}

}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY::vexp
