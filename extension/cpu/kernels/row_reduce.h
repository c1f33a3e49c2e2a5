// Reductions along one contiguous row (the last dimensions of a tensor), for the normalisation
// family: sums of per-element expressions vectorized across the row, and a row's mean and variance
// by two passes (the second reads the row from cache). Rows are independent, so callers split
// rows across threads (at::parallel_for) and results do not depend on the thread count.
#pragma once
#include <algorithm>
#include <array>
#include <cstring>
#include <type_traits>

#include "capability.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY::rowred {

// GCC/Clang vector extensions, 256-bit: AVX2/AVX-512 builds map them to registers, the baseline
// build to pairs of SSE registers.
template <typename T>
using Vec [[gnu::vector_size(32)]] = T;
template <typename T>
constexpr int kVL = 32 / sizeof(T);
// Independent vector accumulators per sum, so the adds are not one serial chain.
constexpr int kAcc = 4;
// Values each lane adds up in the data's dtype before the chunk's total is carried into double.
constexpr int64_t kChunk = 1024;

// *p as a vector (unaligned) or as a scalar, by the type asked for.
template <typename V, typename T>
inline V load(const T* p) {
  if constexpr (std::is_same_v<V, T>) {
    return *p;
  } else {
    V v;
    std::memcpy(&v, p, sizeof(V));
    return v;
  }
}

template <typename T>
inline double fold(const Vec<T>* acc) {
  Vec<T> s = acc[0];
  for (int a = 1; a < kAcc; ++a) s += acc[a];
  T t[kVL<T>];
  std::memcpy(t, &s, sizeof(s));
  for (int h = kVL<T> / 2; h >= 1; h /= 2)
    for (int j = 0; j < h; ++j) t[j] += t[j + h];
  return double(t[0]);
}

// The K sums over i < n of f(i, V{}), which returns std::array<V, K>: V is Vec<T> for the lanes
// i .. i+kVL-1 or T for element i alone (f reads its operands with load<V>).
template <int K, typename T, typename F>
inline std::array<double, K> sums(int64_t n, const F& f) {
  constexpr int VL = kVL<T>;
  std::array<double, K> total{};
  for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
    const int64_t c1 = std::min(n, c0 + kChunk);
    Vec<T> acc[K][kAcc] = {};
    T tail[K] = {};
    int64_t i = c0;
    for (; i + kAcc * VL <= c1; i += kAcc * VL)
      for (int a = 0; a < kAcc; ++a) {
        const auto v = f(i + a * VL, Vec<T>{});
        for (int k = 0; k < K; ++k) acc[k][a] += v[k];
      }
    for (; i + VL <= c1; i += VL) {
      const auto v = f(i, Vec<T>{});
      for (int k = 0; k < K; ++k) acc[k][0] += v[k];
    }
    for (; i < c1; ++i) {
      const auto v = f(i, T{});
      for (int k = 0; k < K; ++k) tail[k] += v[k];
    }
    for (int k = 0; k < K; ++k) total[k] += fold<T>(acc[k]) + double(tail[k]);
  }
  return total;
}

// Mean and biased variance of x[0, n): the sum, then the squared deviations from the mean (exact
// for values far from zero relative to their spread, where one-pass sums of squares cancel).
template <typename T>
inline void moments(const T* x, int64_t n, double& mean, double& var) {
  if (n == 0) {
    mean = 0.0;
    var = 0.0;
    return;
  }
  mean = sums<1, T>(n, [x](int64_t i, auto tag) {
           using V = decltype(tag);
           return std::array<V, 1>{load<V>(x + i)};
         })[0] / double(n);
  const T m = T(mean);
  var = sums<1, T>(n, [x, m](int64_t i, auto tag) {
          using V = decltype(tag);
          const V d = load<V>(x + i) - m;
          return std::array<V, 1>{d * d};
        })[0] / double(n);
}

}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY::rowred
