// 2-D average pooling and its backward (CPU), per contiguous H x W plane. Each output row is
// computed at once: the windows inside the input's columns as one loop over the row per kernel
// column (vectorized), the few at the edges one by one. Every output adds its window in native's
// order (rows, then columns), so the sums equal native's.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "../pooling_dispatch.h"
#include "loops.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY {
namespace {

// The input rows [h0, h1) (clamped to the input) of the windows of one output row.
struct WindowRow {
  int64_t h0, h1;
};

// padded_rows: the rows clamped to the padded input instead (count_include_pad's count).
inline WindowRow window_rows(const PoolGeometry& g, int64_t oh, int64_t& padded_rows) {
  const int64_t hs = oh * g.sh - g.ph;
  const int64_t he = std::min(hs + g.kh, g.H + g.ph);
  padded_rows = he - hs;
  return {std::max<int64_t>(hs, 0), std::min(he, g.H)};
}

// Divisors of every output column for windows of `rows` input rows (`padded_rows` with padding):
// 0 for a window with no input element, whose output is 0.
void column_divisors(const PoolGeometry& g, bool include_pad, int64_t divisor, int64_t rows,
                     int64_t padded_rows, int64_t* div) {
  for (int64_t ow = 0; ow < g.OW; ++ow) {
    const int64_t ws = ow * g.sw - g.pw;
    const int64_t we = std::min(ws + g.kw, g.W + g.pw);
    const int64_t cols = std::min(we, g.W) - std::max<int64_t>(ws, 0);
    if (rows <= 0 || cols <= 0) div[ow] = 0;
    else if (divisor != 0) div[ow] = divisor;
    else div[ow] = include_pad ? padded_rows * (we - ws) : rows * cols;
  }
}

// Output columns [lo, hi) have windows wholly inside the input's columns.
inline void interior_columns(const PoolGeometry& g, int64_t& lo, int64_t& hi) {
  lo = std::min(g.OW, (g.pw + g.sw - 1) / g.sw);
  hi = g.W - g.kw + g.pw >= 0 ? std::min(g.OW, (g.W - g.kw + g.pw) / g.sw + 1) : 0;
  hi = std::max(hi, lo);
}

// acc[ow] += the window row of input row `row` for every output column.
template <typename T, int SW>
inline void add_row(const T* __restrict__ row, const PoolGeometry& g, int64_t lo, int64_t hi,
                    T* __restrict__ acc) {
  const int64_t sw = SW > 0 ? SW : g.sw;
  auto edge = [&](int64_t ow) {
    const int64_t ws = ow * sw - g.pw;
    const int64_t w0 = std::max<int64_t>(ws, 0), w1 = std::min(ws + g.kw, g.W);
    for (int64_t iw = w0; iw < w1; ++iw) acc[ow] += row[iw];
  };
  for (int64_t ow = 0; ow < lo; ++ow) edge(ow);
  for (int64_t k = 0; k < g.kw; ++k) {
    const T* __restrict__ p = row - g.pw + k;
    for (int64_t ow = lo; ow < hi; ++ow) acc[ow] += p[ow * sw];
  }
  for (int64_t ow = hi; ow < g.OW; ++ow) edge(ow);
}

template <typename T, int SW>
void avg_pool_plane(const PoolGeometry& g, bool include_pad, int64_t divisor, const T* __restrict__ in,
                    T* __restrict__ out, int64_t* div) {
  int64_t lo, hi;
  interior_columns(g, lo, hi);
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    int64_t padded_rows;
    const WindowRow r = window_rows(g, oh, padded_rows);
    T* __restrict__ acc = out + oh * g.OW;
    std::fill(acc, acc + g.OW, T(0));
    for (int64_t ih = r.h0; ih < r.h1; ++ih) add_row<T, SW>(in + ih * g.W, g, lo, hi, acc);
    column_divisors(g, include_pad, divisor, r.h1 - r.h0, padded_rows, div);
    for (int64_t ow = 0; ow < g.OW; ++ow) acc[ow] = div[ow] == 0 ? T(0) : acc[ow] / T(div[ow]);
  }
}

// Runs body(plane_begin, plane_end, divisors) over the planes in parallel, with a scratch row of
// OW divisors per task.
template <typename F>
void for_planes(const PoolGeometry& g, int64_t planes, const F& body) {
  const int64_t work = std::max<int64_t>(1, g.OH * g.OW * std::min(g.kh, g.H) * std::min(g.kw, g.W));
  at::parallel_for(0, planes, std::max<int64_t>(1, kElementwiseGrain / work), [&](int64_t b, int64_t e) {
    std::vector<int64_t> div(g.OW);
    body(b, e, div.data());
  });
}

template <typename T>
void avg_pool2d(const PoolGeometry& g, bool include_pad, int64_t divisor, int64_t planes, const T* in,
                T* out) {
  for_planes(g, planes, [&](int64_t b, int64_t e, int64_t* div) {
    for (int64_t p = b; p < e; ++p) {
      const T* pin = in + p * g.H * g.W;
      T* pout = out + p * g.OH * g.OW;
      if (g.sw == 1) avg_pool_plane<T, 1>(g, include_pad, divisor, pin, pout, div);
      else if (g.sw == 2) avg_pool_plane<T, 2>(g, include_pad, divisor, pin, pout, div);
      else avg_pool_plane<T, 0>(g, include_pad, divisor, pin, pout, div);
    }
  });
}

// grad_row[window of ow] += d[ow] for every output column of one input row.
template <typename T, int SW>
inline void scatter_row(T* __restrict__ row, const PoolGeometry& g, int64_t lo, int64_t hi,
                        const T* __restrict__ d) {
  const int64_t sw = SW > 0 ? SW : g.sw;
  auto edge = [&](int64_t ow) {
    const int64_t ws = ow * sw - g.pw;
    const int64_t w0 = std::max<int64_t>(ws, 0), w1 = std::min(ws + g.kw, g.W);
    for (int64_t iw = w0; iw < w1; ++iw) row[iw] += d[ow];
  };
  for (int64_t ow = 0; ow < lo; ++ow) edge(ow);
  for (int64_t k = 0; k < g.kw; ++k) {
    T* __restrict__ p = row - g.pw + k;
    for (int64_t ow = lo; ow < hi; ++ow) p[ow * sw] += d[ow];
  }
  for (int64_t ow = hi; ow < g.OW; ++ow) edge(ow);
}

template <typename T, int SW>
void avg_pool_backward_plane(const PoolGeometry& g, bool include_pad, int64_t divisor,
                             const T* __restrict__ grad, T* __restrict__ gi, int64_t* div, T* d) {
  int64_t lo, hi;
  interior_columns(g, lo, hi);
  std::fill(gi, gi + g.H * g.W, T(0));
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    int64_t padded_rows;
    const WindowRow r = window_rows(g, oh, padded_rows);
    if (r.h0 >= r.h1) continue;
    column_divisors(g, include_pad, divisor, r.h1 - r.h0, padded_rows, div);
    for (int64_t ow = 0; ow < g.OW; ++ow) d[ow] = div[ow] == 0 ? T(0) : grad[oh * g.OW + ow] / T(div[ow]);
    for (int64_t ih = r.h0; ih < r.h1; ++ih) scatter_row<T, SW>(gi + ih * g.W, g, lo, hi, d);
  }
}

// One thread owns each plane, so overlapping windows accumulate safely.
template <typename T>
void avg_pool2d_backward(const PoolGeometry& g, bool include_pad, int64_t divisor, int64_t planes,
                         const T* grad, T* grad_input) {
  for_planes(g, planes, [&](int64_t b, int64_t e, int64_t* div) {
    std::vector<T> d(g.OW);
    for (int64_t p = b; p < e; ++p) {
      const T* pg = grad + p * g.OH * g.OW;
      T* pgi = grad_input + p * g.H * g.W;
      if (g.sw == 1) avg_pool_backward_plane<T, 1>(g, include_pad, divisor, pg, pgi, div, d.data());
      else if (g.sw == 2) avg_pool_backward_plane<T, 2>(g, include_pad, divisor, pg, pgi, div, d.data());
      else avg_pool_backward_plane<T, 0>(g, include_pad, divisor, pg, pgi, div, d.data());
    }
  });
}

}  // namespace
}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY

TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::AvgPool2dKernel, avg_pool2d);
TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::AvgPool2dBackwardKernel, avg_pool2d_backward);
