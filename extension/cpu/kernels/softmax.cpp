// softmax/log_softmax forward and backward over the middle dim of contiguous (outer, N, inner).
// inner == 1 (the last dim): rows in parallel, each reduced with row_reduce.h and exp'd with
// vec_exp.h. Otherwise blocks of up to kCols columns in parallel, each column reduced over N in
// order, vectorized across the columns. Every reduction runs whole on one thread in a fixed order,
// so results do not depend on the thread count.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "../softmax_dispatch.h"
#include "loops.h"
#include "row_reduce.h"
#include "vec_exp.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY {
namespace {

constexpr int64_t kCols = 256;

int64_t grain_for(int64_t values_per_task) {
  return std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(values_per_task, 1));
}

template <typename T>
void softmax_row(const T* __restrict__ x, int64_t N, bool log, T* __restrict__ y) {
  const T m = vexp::row_max(x, N);
  vexp::exp_shifted(x, m, y, N);
  const double s = rowred::sums<1, T>(N, [y](int64_t i, auto tag) {
    using V = decltype(tag);
    return std::array<V, 1>{rowred::load<V>(y + i)};
  })[0];
  if (log) {
    const T shift = m + T(std::log(s));
    for (int64_t i = 0; i < N; ++i) y[i] = x[i] - shift;
  } else {
    const T r = T(1.0 / s);
    for (int64_t i = 0; i < N; ++i) y[i] *= r;
  }
}

// Columns [0, n) of one outer slice (row stride `inner`).
template <typename T>
void softmax_columns(const T* x, int64_t N, int64_t inner, int64_t n, bool log, T* y) {
  T m[kCols], s[kCols], e[kCols];
  std::fill(m, m + n, -std::numeric_limits<T>::infinity());
  std::fill(s, s + n, T(0));
  for (int64_t k = 0; k < N; ++k) {
    const T* __restrict__ row = x + k * inner;
    for (int64_t j = 0; j < n; ++j) m[j] = (row[j] > m[j] || row[j] != row[j]) ? row[j] : m[j];
  }
  for (int64_t k = 0; k < N; ++k) {
    const T* __restrict__ row = x + k * inner;
    T* __restrict__ out = log ? e : y + k * inner;
    for (int64_t j = 0; j < n; ++j) out[j] = row[j] - m[j];
    vexp::exp_shifted(out, T(0), out, n);
    for (int64_t j = 0; j < n; ++j) s[j] += out[j];
  }
  for (int64_t j = 0; j < n; ++j) s[j] = log ? m[j] + std::log(s[j]) : T(1) / s[j];
  for (int64_t k = 0; k < N; ++k) {
    T* __restrict__ out = y + k * inner;
    const T* __restrict__ row = x + k * inner;
    if (log) {
      for (int64_t j = 0; j < n; ++j) out[j] = row[j] - s[j];
    } else {
      for (int64_t j = 0; j < n; ++j) out[j] *= s[j];
    }
  }
}

template <typename T>
void softmax_backward_row(const T* __restrict__ dy, const T* __restrict__ y, int64_t N, bool log,
                          T* __restrict__ dx) {
  if (log) {
    const T s = T(rowred::sums<1, T>(N, [dy](int64_t i, auto tag) {
      using V = decltype(tag);
      return std::array<V, 1>{rowred::load<V>(dy + i)};
    })[0]);
    vexp::exp_shifted(y, T(0), dx, N);
    for (int64_t i = 0; i < N; ++i) dx[i] = dy[i] - dx[i] * s;
  } else {
    const T s = T(rowred::sums<1, T>(N, [dy, y](int64_t i, auto tag) {
      using V = decltype(tag);
      return std::array<V, 1>{rowred::load<V>(dy + i) * rowred::load<V>(y + i)};
    })[0]);
    for (int64_t i = 0; i < N; ++i) dx[i] = y[i] * (dy[i] - s);
  }
}

template <typename T>
void softmax_backward_columns(const T* dy, const T* y, int64_t N, int64_t inner, int64_t n, bool log,
                              T* dx) {
  T s[kCols];
  std::fill(s, s + n, T(0));
  for (int64_t k = 0; k < N; ++k) {
    const T* __restrict__ g = dy + k * inner;
    const T* __restrict__ o = y + k * inner;
    if (log) {
      for (int64_t j = 0; j < n; ++j) s[j] += g[j];
    } else {
      for (int64_t j = 0; j < n; ++j) s[j] += g[j] * o[j];
    }
  }
  for (int64_t k = 0; k < N; ++k) {
    const T* __restrict__ g = dy + k * inner;
    const T* __restrict__ o = y + k * inner;
    T* __restrict__ d = dx + k * inner;
    if (log) {
      vexp::exp_shifted(o, T(0), d, n);
      for (int64_t j = 0; j < n; ++j) d[j] = g[j] - d[j] * s[j];
    } else {
      for (int64_t j = 0; j < n; ++j) d[j] = o[j] * (g[j] - s[j]);
    }
  }
}

// Runs row(offset) for every row (inner == 1) or cols(offset, n) for every column block.
template <typename Row, typename Cols>
void for_each_slice(int64_t outer, int64_t N, int64_t inner, const Row& row, const Cols& cols) {
  if (inner == 1) {
    parallel_chunks(outer, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) row(r * N);
    }, grain_for(N));
    return;
  }
  const int64_t blocks = (inner + kCols - 1) / kCols;
  parallel_chunks(outer * blocks, [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t o = t / blocks, j0 = (t % blocks) * kCols;
      cols(o * N * inner + j0, std::min(kCols, inner - j0));
    }
  }, grain_for(N * std::min(kCols, inner)));
}

}  // namespace

template <typename T>
void softmax(const T* x, int64_t outer, int64_t N, int64_t inner, bool log, T* out) {
  if (N == 0) return;
  for_each_slice(outer, N, inner, [&](int64_t off) { softmax_row(x + off, N, log, out + off); },
                 [&](int64_t off, int64_t n) { softmax_columns(x + off, N, inner, n, log, out + off); });
}

template <typename T>
void softmax_backward(const T* dy, const T* y, int64_t outer, int64_t N, int64_t inner, bool log, T* dx) {
  if (N == 0) return;
  for_each_slice(outer, N, inner,
                 [&](int64_t off) { softmax_backward_row(dy + off, y + off, N, log, dx + off); },
                 [&](int64_t off, int64_t n) {
                   softmax_backward_columns(dy + off, y + off, N, inner, n, log, dx + off);
                 });
}

}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY

TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::SoftmaxKernel, softmax);
TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::SoftmaxBackwardKernel, softmax_backward);
