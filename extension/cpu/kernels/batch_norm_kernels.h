// The batch-norm passes over a tensor in a ChannelLayout: per-channel moments, the two gradient
// sums, and the per-channel elementwise forms of the forward and of the input gradient.
// Reductions combine partials in double; elementwise passes compute in the tensor's dtype.
#pragma once
#include <algorithm>
#include <cstring>
#include <vector>

#include "channel_loops.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY {

namespace span {
// Reductions over contiguous spans into an Acc: kK vector accumulators (GCC/Clang vector
// extensions, 256-bit, so adds are not one serial chain) plus one accumulator per position of a
// sub-vector tail, all in the data's dtype. One reduction unit (at most about kChannelUnit
// values) fills one Acc, so each lane adds up only a few hundred values before the unit's total
// is taken. Internal linkage, so that calls on short spans are direct and inlinable.

template <typename T>
using Vec [[gnu::vector_size(32)]] = T;
template <typename T>
constexpr int kVL = 32 / sizeof(T);
constexpr int kK = 4;

template <typename T>
static inline Vec<T> loadu(const T* p) {
  Vec<T> v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

template <typename T>
struct Acc {
  Vec<T> v[kK] = {};
  T tail[kVL<T>] = {};
  // Vectors and tail summed, then the lanes folded pairwise (halves onto each other).
  double total() const {
    Vec<T> s = loadu(tail);
    for (int k = 0; k < kK; ++k) s += v[k];
    T t[kVL<T>];
    std::memcpy(t, &s, sizeof(s));
    for (int h = kVL<T> / 2; h >= 1; h /= 2)
      for (int j = 0; j < h; ++j) t[j] += t[j + h];
    return double(t[0]);
  }
};

// acc += f(p[i]) over the span, with f applied lanewise to vectors and to scalars alike.
template <typename T, typename F>
static inline void add(Acc<T>& acc, const T* __restrict__ p, int64_t n, const F& f) {
  constexpr int VL = kVL<T>;
  int64_t i = 0;
  for (; i + kK * VL <= n; i += kK * VL)
    for (int k = 0; k < kK; ++k) acc.v[k] += f(loadu(p + i + k * VL));
  for (; i + VL <= n; i += VL) acc.v[0] += f(loadu(p + i));
  for (int j = 0; i + j < n; ++j) acc.tail[j] += f(p[i + j]);
}

// a += dy, b += dy * (x - mean).
template <typename T>
static inline void add_grad(Acc<T>& a, Acc<T>& b, const T* __restrict__ dy, const T* __restrict__ x,
                            int64_t n, T mean) {
  constexpr int VL = kVL<T>;
  int64_t i = 0;
  for (; i + kK * VL <= n; i += kK * VL)
    for (int k = 0; k < kK; ++k) {
      const Vec<T> g = loadu(dy + i + k * VL);
      a.v[k] += g;
      b.v[k] += g * (loadu(x + i + k * VL) - mean);
    }
  for (; i + VL <= n; i += VL) {
    const Vec<T> g = loadu(dy + i);
    a.v[0] += g;
    b.v[0] += g * (loadu(x + i) - mean);
  }
  for (int j = 0; i + j < n; ++j) {
    a.tail[j] += dy[i + j];
    b.tail[j] += dy[i + j] * (x[i + j] - mean);
  }
}

// Planes [o0, o1), elements [i0, i1) of each, of channel c: one plane reduction unit.
struct PlaneUnit {
  int64_t c, o0, o1, i0, i1;
  int64_t size() const { return (o1 - o0) * (i1 - i0); }
  int64_t offset(const ChannelLayout& L, int64_t o) const { return (o * L.channels + c) * L.inner + i0; }
};

// Mean and sum of squared deviations of one unit, by two passes (the second from cache).
template <typename T>
static void unit_moments(const ChannelLayout& L, const T* x, const PlaneUnit& u, double& mean, double& m2) {
  const int64_t len = u.i1 - u.i0;
  Acc<T> s, s2;
  for (int64_t o = u.o0; o < u.o1; ++o) add(s, x + u.offset(L, o), len, [](auto v) { return v; });
  mean = u.size() > 0 ? s.total() / double(u.size()) : 0.0;
  const T m = T(mean);
  for (int64_t o = u.o0; o < u.o1; ++o)
    add(s2, x + u.offset(L, o), len, [m](auto v) { return (v - m) * (v - m); });
  m2 = s2.total();
}

}  // namespace span

namespace rows {
// Per unit, values of every row position accumulate column-wise (vectorized across the row, in
// the data's dtype, at most kMaxTileRows adds each); each channel then totals its columns.

// out[c] = the total of channel c's `inner` column accumulators, for the tile's channels.
template <typename T>
static void channel_columns(const T* acc, int64_t channels, int64_t inner, double* out) {
  for (int64_t c = 0; c < channels; ++c) {
    const T* __restrict__ p = acc + c * inner;
    double s[4] = {0, 0, 0, 0};  // four independent chains (one vector of doubles)
    int64_t i = 0;
    for (; i + 4 <= inner; i += 4)
      for (int q = 0; q < 4; ++q) s[q] += double(p[i + q]);
    for (; i < inner; ++i) s[0] += double(p[i]);
    out[c] = (s[0] + s[1]) + (s[2] + s[3]);
  }
}

}  // namespace rows

// Per-channel mean and biased variance of x into mean[C], var[C]. Each unit makes two passes
// over its values (the second from cache): sums, then squared deviations from the unit's mean;
// the units' moments are then merged per channel.
template <typename T>
void channel_moments(const ChannelLayout& L, const T* x, double* mean, double* var) {
  const int64_t C = L.channels;
  std::vector<double> um, um2, un;  // per unit and channel: mean, M2, count
  int64_t units;                    // units per channel; unit k of channel c at c*units + k
  if (!L.rows()) {
    const PlaneUnits U(L);
    units = U.per_channel;
    um.resize(C * units), um2.resize(C * units), un.resize(C * units);
    for_each_plane_unit(L, U, [&](int64_t k, int64_t c, int64_t o0, int64_t o1, int64_t i0, int64_t i1) {
      const span::PlaneUnit u{c, o0, o1, i0, i1};
      span::unit_moments(L, x, u, um[k], um2[k]);
      un[k] = double(u.size());
    });
  } else {
    const RowUnits U(L);
    const int64_t J = L.row_length(), inner = L.inner;
    units = U.blocks;
    um.resize(C * units), um2.resize(C * units), un.resize(C * units);
    std::vector<double> tile_sum(C), tile_sq(C);
    for_each_row_unit(U, [&](int64_t k, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
      const int64_t j0 = c0 * inner, len = (c1 - c0) * inner;
      const double n = double((r1 - r0) * inner);
      T acc[kRowTile] = {}, col_mean[kRowTile];
      for (int64_t r = r0; r < r1; ++r) {
        const T* __restrict__ row = x + r * J + j0;
        for (int64_t j = 0; j < len; ++j) acc[j] += row[j];
      }
      double sums[kRowTile];
      rows::channel_columns(acc, c1 - c0, inner, sums);
      for (int64_t c = c0; c < c1; ++c) {
        const double m = sums[c - c0] / n;
        um[c * units + k] = m;
        un[c * units + k] = n;
        for (int64_t i = 0; i < inner; ++i) col_mean[(c - c0) * inner + i] = T(m);
      }
      std::fill(acc, acc + len, T(0));
      for (int64_t r = r0; r < r1; ++r) {
        const T* __restrict__ row = x + r * J + j0;
        for (int64_t j = 0; j < len; ++j) {
          const T d = row[j] - col_mean[j];
          acc[j] += d * d;
        }
      }
      rows::channel_columns(acc, c1 - c0, inner, sums);
      for (int64_t c = c0; c < c1; ++c) um2[c * units + k] = sums[c - c0];
    });
  }
  for (int64_t c = 0; c < C; ++c) {
    Moments acc;
    for (int64_t k = c * units; k < (c + 1) * units; ++k) acc.merge(un[k], um[k], um2[k]);
    mean[c] = acc.mean;
    var[c] = acc.n > 0 ? acc.m2 / acc.n : 0.0;
  }
}

// relu's backward on a span, as native's threshold_backward: dy where out > 0 or NaN, else 0.
// Returns `masked`, which then stands for dy.
template <typename T>
static inline const T* relu_masked(const T* __restrict__ dy, const T* __restrict__ out,
                                   T* __restrict__ masked, int64_t n) {
  for (int64_t i = 0; i < n; ++i) masked[i] = out[i] <= T(0) ? T(0) : dy[i];
  return masked;
}

// Per-channel sum(dy) and sum(dy * (x - mean)) into s_dy[C], s_dyx[C]; with relu_out, dy masked
// by relu's backward first and written to masked_dy (each span then summed from cache).
template <typename T>
void channel_grad_sums(const ChannelLayout& L, const T* dy, const T* x, const double* mean,
                       const T* relu_out, T* masked_dy, double* s_dy, double* s_dyx) {
  const int64_t C = L.channels;
  std::vector<double> pa, pb;  // per unit and channel; unit k of channel c at c*units + k
  int64_t units;
  if (!L.rows()) {
    const PlaneUnits U(L);
    units = U.per_channel;
    pa.resize(C * units), pb.resize(C * units);
    for_each_plane_unit(L, U, [&](int64_t k, int64_t c, int64_t o0, int64_t o1, int64_t i0, int64_t i1) {
      const span::PlaneUnit u{c, o0, o1, i0, i1};
      span::Acc<T> a, b;
      for (int64_t o = o0; o < o1; ++o) {
        const int64_t off = u.offset(L, o);
        const T* g = relu_out ? relu_masked(dy + off, relu_out + off, masked_dy + off, i1 - i0) : dy + off;
        span::add_grad(a, b, g, x + off, i1 - i0, T(mean[c]));
      }
      pa[k] = a.total();
      pb[k] = b.total();
    });
  } else {
    const RowUnits U(L);
    const int64_t J = L.row_length(), inner = L.inner;
    units = U.blocks;
    pa.resize(C * units), pb.resize(C * units);
    const std::vector<T> col_mean = per_row_position<T>(L, mean);
    for_each_row_unit(U, [&](int64_t k, int64_t r0, int64_t r1, int64_t c0, int64_t c1) {
      const int64_t j0 = c0 * inner, len = (c1 - c0) * inner;
      T a[kRowTile] = {}, b[kRowTile] = {};
      const T* __restrict__ m = col_mean.data() + j0;
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t off = r * J + j0;
        const T* __restrict__ g =
            relu_out ? relu_masked(dy + off, relu_out + off, masked_dy + off, len) : dy + off;
        const T* __restrict__ v = x + off;
        for (int64_t j = 0; j < len; ++j) {
          a[j] += g[j];
          b[j] += g[j] * (v[j] - m[j]);
        }
      }
      double sa[kRowTile], sb[kRowTile];
      rows::channel_columns(a, c1 - c0, inner, sa);
      rows::channel_columns(b, c1 - c0, inner, sb);
      for (int64_t c = c0; c < c1; ++c) {
        pa[c * units + k] = sa[c - c0];
        pb[c * units + k] = sb[c - c0];
      }
    });
  }
  for (int64_t c = 0; c < C; ++c) {
    double a = 0, b = 0;
    for (int64_t k = c * units; k < (c + 1) * units; ++k) {
      a += pa[k];
      b += pb[k];
    }
    s_dy[c] = a;
    s_dyx[c] = b;
  }
}

// The normalized value's epilogue: plus the residual when kResidual, then relu (NaN propagates,
// as native's) when kRelu. Compile-time flags, so each variant's loop vectorizes on its own.
template <bool kResidual, bool kRelu>
struct Epilogue {
  template <typename T>
  static inline T apply(T v, const T* __restrict__ residual, int64_t i) {
    if constexpr (kResidual) v += residual[i];
    if constexpr (kRelu) v = (v > T(0) || v != v) ? v : T(0);
    return v;
  }
};

// Calls f(Epilogue<residual given, relu>{}).
template <typename T, typename F>
static void with_epilogue(const T* residual, bool relu, const F& f) {
  if (residual) {
    if (relu) f(Epilogue<true, true>{});
    else f(Epilogue<true, false>{});
  } else {
    if (relu) f(Epilogue<false, true>{});
    else f(Epilogue<false, false>{});
  }
}

// out = (x - center[c]) * scale[c] + shift[c] (+ residual) (relu). Subtracting first keeps the
// result accurate when the values sit far from zero relative to their spread.
template <typename T>
void channel_normalize(const ChannelLayout& L, const T* x, const T* center, const T* scale,
                       const T* shift, const T* residual, bool relu, T* out) {
  with_epilogue(residual, relu, [&](auto epilogue) {
    using E = decltype(epilogue);
    if (!L.elementwise_rows()) {
      for_plane_pieces(L, [&](int64_t c, int64_t off, int64_t n) {
        const T m = center[c], s = scale[c], t = shift[c];
        const T* __restrict__ in = x + off;
        const T* __restrict__ r = residual ? residual + off : nullptr;
        T* __restrict__ o = out + off;
        for (int64_t i = 0; i < n; ++i) o[i] = E::apply((in[i] - m) * s + t, r, i);
      });
      return;
    }
    const std::vector<T> m_pos = per_row_position<T>(L, center), s_pos = per_row_position<T>(L, scale),
                         t_pos = per_row_position<T>(L, shift);
    for_row_pieces(L, [&](int64_t j, int64_t off, int64_t n) {
      const T* __restrict__ m = m_pos.data() + j;
      const T* __restrict__ s = s_pos.data() + j;
      const T* __restrict__ t = t_pos.data() + j;
      const T* __restrict__ in = x + off;
      const T* __restrict__ r = residual ? residual + off : nullptr;
      T* __restrict__ o = out + off;
      for (int64_t i = 0; i < n; ++i) o[i] = E::apply((in[i] - m[i]) * s[i] + t[i], r, i);
    });
  });
}

// Training input gradient: out = k[c] * (dy - mdy[c] - (x - mean[c]) * proj[c]).
template <typename T>
void channel_input_grad(const ChannelLayout& L, const T* dy, const T* x, const T* k, const T* mdy,
                        const T* mean, const T* proj, T* out) {
  if (!L.elementwise_rows()) {
    for_plane_pieces(L, [&](int64_t c, int64_t off, int64_t n) {
      const T kc = k[c], dc = mdy[c], mc = mean[c], pc = proj[c];
      const T* __restrict__ g = dy + off;
      const T* __restrict__ v = x + off;
      T* __restrict__ o = out + off;
      for (int64_t i = 0; i < n; ++i) o[i] = kc * (g[i] - dc - (v[i] - mc) * pc);
    });
    return;
  }
  const std::vector<T> k_pos = per_row_position<T>(L, k), d_pos = per_row_position<T>(L, mdy),
                       m_pos = per_row_position<T>(L, mean), p_pos = per_row_position<T>(L, proj);
  for_row_pieces(L, [&](int64_t j, int64_t off, int64_t n) {
    const T* __restrict__ kp = k_pos.data() + j;
    const T* __restrict__ dp = d_pos.data() + j;
    const T* __restrict__ mp = m_pos.data() + j;
    const T* __restrict__ pp = p_pos.data() + j;
    const T* __restrict__ g = dy + off;
    const T* __restrict__ v = x + off;
    T* __restrict__ o = out + off;
    for (int64_t i = 0; i < n; ++i) o[i] = kp[i] * (g[i] - dp[i] - (v[i] - mp[i]) * pp[i]);
  });
}

}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY
