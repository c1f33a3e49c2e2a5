// 2-D max pooling with indices and its backward (CPU), for (N, C, H, W) or unbatched (C, H, W).
#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

#include "../pooling_dispatch.h"
#include "loops.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY {
namespace {


// The max of one window, scanning rows then columns. The first maximum wins; a NaN is taken
// whenever seen (so NaN propagates and the last NaN's index is kept), as native.
template <typename T>
inline void window_max(const T* __restrict__ in, int64_t W, int64_t h0, int64_t h1, int64_t dh,
                       int64_t w0, int64_t w1, int64_t dw, T& best, int64_t& best_idx) {
  for (int64_t ih = h0; ih < h1; ih += dh) {
    for (int64_t iw = w0; iw < w1; iw += dw) {
      const int64_t i = ih * W + iw;
      const T v = in[i];
      if (v > best || v != v) {
        best = v;
        best_idx = i;
      }
    }
  }
}

// One output by scanning its window, clamped to the input. A dilated window can fall wholly on
// padding: its max is -inf, from no input (index -1).
template <typename T>
inline void pool_one(const T* __restrict__ in, const PoolGeometry& g, int64_t oh, int64_t ow, T& best,
                     int64_t& best_idx) {
  const int64_t hs = oh * g.sh - g.ph, ws = ow * g.sw - g.pw;
  int64_t h0 = hs, w0 = ws;
  const int64_t h1 = std::min(hs + (g.kh - 1) * g.dh + 1, g.H);
  const int64_t w1 = std::min(ws + (g.kw - 1) * g.dw + 1, g.W);
  // The first window element at or after 0 (in one step: the padding may be huge).
  if (h0 < 0) h0 += (-h0 + g.dh - 1) / g.dh * g.dh;
  if (w0 < 0) w0 += (-w0 + g.dw - 1) / g.dw * g.dw;
  best = -std::numeric_limits<T>::infinity();
  best_idx = (h0 < h1 && w0 < w1) ? h0 * g.W + w0 : -1;
  window_max(in, g.W, h0, h1, g.dh, w0, w1, g.dw, best, best_idx);
}

// Vector path (GCC/Clang vector extensions): kVL adjacent outputs of one row at once, each lane
// keeping its running max and index with the same rule and scan order as window_max, for
// undilated windows inside the input's columns, with column stride 1 or 2. Indices are computed
// in lanes of the value's width (int32 for float, so planes must have fewer than 2^31 values).
template <typename T>
using Vec [[gnu::vector_size(32)]] = T;
template <typename T>
using Lane = std::conditional_t<sizeof(T) == 4, int32_t, int64_t>;
template <typename T>
using IVec [[gnu::vector_size(32)]] = Lane<T>;
template <typename T>
constexpr int kVL = 32 / sizeof(T);

template <typename T, int SW>
inline Vec<T> load_strided(const T* p) {
  Vec<T> a;
  std::memcpy(&a, p, sizeof(a));
  if constexpr (SW == 1) {
    return a;
  } else {  // p[0], p[2], ..., p[2*(kVL-1)]: b starts at p[kVL-1], so nothing past the last is read
    Vec<T> b;
    std::memcpy(&b, p + kVL<T> - 1, sizeof(b));
    if constexpr (kVL<T> == 8) return __builtin_shufflevector(a, b, 0, 2, 4, 6, 9, 11, 13, 15);
    else return __builtin_shufflevector(a, b, 0, 2, 5, 7);
  }
}

// kVL outputs ow, ow+1, ... of row oh, whose windows span input rows [h0, h1) (clamped, so never
// empty with dilation 1) and lie inside the row's columns.
template <typename T, int SW>
void pool_block_vec(const T* __restrict__ in, const PoolGeometry& g, int64_t oh, int64_t h0, int64_t h1,
                    int64_t ow, T* __restrict__ out, int64_t* __restrict__ idx) {
  constexpr int VL = kVL<T>;
  IVec<T> lane_offset;
  for (int l = 0; l < VL; ++l) lane_offset[l] = Lane<T>(l * SW);
  const int64_t ws = ow * SW - g.pw;
  Vec<T> best = Vec<T>{} - std::numeric_limits<T>::infinity();
  IVec<T> best_idx = lane_offset + Lane<T>(h0 * g.W + ws);
  for (int64_t ih = h0; ih < h1; ++ih) {
    for (int64_t i = 0; i < g.kw; ++i) {
      const int64_t pos = ih * g.W + ws + i;
      const Vec<T> v = load_strided<T, SW>(in + pos);
      const IVec<T> take = (v > best) | (v != v);
      best = take ? v : best;
      best_idx = take ? lane_offset + Lane<T>(pos) : best_idx;
    }
  }
  for (int l = 0; l < VL; ++l) {
    out[oh * g.OW + ow + l] = best[l];
    idx[oh * g.OW + ow + l] = int64_t(best_idx[l]);
  }
}

// One plane. For undilated windows with column stride 1 or 2, the outputs of a row whose windows
// lie inside the input's columns go kVL at a time (the last block may overlap the one before,
// recomputing identical values); every other output is scanned on its own.
template <typename T>
void max_pool_plane(const T* __restrict__ in, T* __restrict__ out, int64_t* __restrict__ idx,
                    const PoolGeometry& g) {
  constexpr int VL = kVL<T>;
  const bool vec = g.dh == 1 && g.dw == 1 && (g.sw == 1 || g.sw == 2) &&
                   g.H * g.W < std::numeric_limits<int32_t>::max();
  // Outputs [lo, hi) have windows inside the columns: ws >= 0 and ws + kw <= W.
  const int64_t lo = (g.pw + g.sw - 1) / g.sw;
  const int64_t hi = std::min(g.OW, g.W - g.kw + g.pw >= 0 ? (g.W - g.kw + g.pw) / g.sw + 1 : 0);
  const bool vec_rows = vec && hi - lo >= VL;
  for (int64_t oh = 0; oh < g.OH; ++oh) {
    int64_t ow = 0;
    if (vec_rows) {
      const int64_t hs = oh * g.sh - g.ph;
      const int64_t h0 = std::max<int64_t>(hs, 0), h1 = std::min(hs + g.kh, g.H);
      for (; ow < lo; ++ow) pool_one(in, g, oh, ow, out[oh * g.OW + ow], idx[oh * g.OW + ow]);
      for (;; ow += VL) {
        const int64_t start = std::min(ow, hi - VL);
        if (g.sw == 1) pool_block_vec<T, 1>(in, g, oh, h0, h1, start, out, idx);
        else pool_block_vec<T, 2>(in, g, oh, h0, h1, start, out, idx);
        if (start + VL >= hi) break;
      }
      ow = hi;
    }
    for (; ow < g.OW; ++ow) pool_one(in, g, oh, ow, out[oh * g.OW + ow], idx[oh * g.OW + ow]);
  }
}

template <typename T>
void max_pool2d(const PoolGeometry& g, int64_t planes, const T* in, T* out, int64_t* idx) {
  // Window elements inside the input, at most; a huge kernel is clamped to the input.
  const int64_t work = g.OH * g.OW * std::min(g.kh, g.H) * std::min(g.kw, g.W);
  at::parallel_for(0, planes, std::max<int64_t>(1, kElementwiseGrain / work), [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      max_pool_plane(in + p * g.H * g.W, out + p * g.OH * g.OW, idx + p * g.OH * g.OW, g);
    }
  });
}

// grad_input[idx] += grad_output for every output element; each plane is zeroed and scattered by
// one thread. Index -1 marks a window with no input element and contributes nothing.
template <typename T>
bool max_pool2d_backward(int64_t planes, int64_t HW, int64_t OHW, const T* g, const int64_t* idx,
                         T* gi) {
  std::atomic<bool> bad_index{false};
  at::parallel_for(0, planes, std::max<int64_t>(1, kElementwiseGrain / (HW + OHW)),
                   [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const T* pg = g + p * OHW;
      const int64_t* pidx = idx + p * OHW;
      T* pgi = gi + p * HW;
      std::fill(pgi, pgi + HW, T(0));
      for (int64_t j = 0; j < OHW; ++j) {
        const int64_t i = pidx[j];
        if (i >= 0 && i < HW) pgi[i] += pg[j];
        else if (i != -1) bad_index = true;
      }
    }
  });
  return !bad_index;
}

// out[j] = gg[idx[j]] per plane: each output reads one element, so any split is bitwise the same.
template <typename T>
bool max_pool2d_double_backward(int64_t planes, int64_t HW, int64_t OHW, const T* gg, const int64_t* idx,
                                T* out) {
  std::atomic<bool> bad_index{false};
  at::parallel_for(0, planes, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(OHW, 1)),
                   [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const T* pgg = gg + p * HW;
      const int64_t* pidx = idx + p * OHW;
      T* pout = out + p * OHW;
      for (int64_t j = 0; j < OHW; ++j) {
        const int64_t i = pidx[j];
        if (i >= 0 && i < HW) pout[j] = pgg[i];
        else if (i == -1) pout[j] = T(0);
        else bad_index = true;
      }
    }
  });
  return !bad_index;
}

}  // namespace
}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY

TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::MaxPool2dKernel, max_pool2d);
TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::MaxPool2dBackwardKernel, max_pool2d_backward);
TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::MaxPool2dDoubleBackwardKernel, max_pool2d_double_backward);
