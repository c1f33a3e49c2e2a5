// Adaptive 2-D average pooling and its backward (CPU), for (N, C, H, W) or unbatched (C, H, W).
// Output cell i along a dim of input length L and output length O averages the input range
// [floor(i*L/O), ceil((i+1)*L/O)); ranges of neighbouring cells overlap when O does not divide L.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>

#include "../pooling_dispatch.h"
#include "loops.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY {
namespace {

inline int64_t range_start(int64_t i, int64_t in, int64_t out) { return (i * in) / out; }
inline int64_t range_end(int64_t i, int64_t in, int64_t out) { return ((i + 1) * in + out - 1) / out; }

template <typename T>
double sum_as_double(const T* __restrict__ p, int64_t n) {
  double s = 0;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) s += double(p[i]);
  return s;
}

// Runs body(plane_begin, plane_end) over the planes in parallel, sized by the work per plane.
template <typename F>
void for_planes(int64_t planes, int64_t work_per_plane, const F& body) {
  at::parallel_for(0, planes, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(work_per_plane, 1)),
                   body);
}

template <typename T>
void adaptive_avg_pool2d(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW, const T* in,
                         T* o) {
  for_planes(planes, H * W, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const T* __restrict__ pin = in + p * H * W;
      T* __restrict__ pout = o + p * OH * OW;
      if (OH == 1 && OW == 1) {  // global average: one reduction over the plane
        pout[0] = T(sum_as_double(pin, H * W) / double(H * W));
        continue;
      }
      for (int64_t oh = 0; oh < OH; ++oh) {
        const int64_t h0 = range_start(oh, H, OH), h1 = range_end(oh, H, OH);
        for (int64_t ow = 0; ow < OW; ++ow) {
          const int64_t w0 = range_start(ow, W, OW), w1 = range_end(ow, W, OW);
          double s = 0;
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw) s += double(pin[ih * W + iw]);
          pout[oh * OW + ow] = T(s / double((h1 - h0) * (w1 - w0)));
        }
      }
    }
  });
}

// Each output cell's gradient, divided by its range's area, is added over that range; one thread
// owns each plane, so overlapping ranges accumulate safely.
template <typename T>
void adaptive_avg_pool2d_backward(int64_t planes, int64_t H, int64_t W, int64_t OH, int64_t OW,
                                  const T* g, T* gi) {
  for_planes(planes, H * W, [&](int64_t b, int64_t e) {
    for (int64_t p = b; p < e; ++p) {
      const T* __restrict__ pg = g + p * OH * OW;
      T* __restrict__ pgi = gi + p * H * W;
      if (OH == 1 && OW == 1) {
        const T v = T(double(pg[0]) / double(H * W));
        for (int64_t i = 0; i < H * W; ++i) pgi[i] = v;
        continue;
      }
      for (int64_t i = 0; i < H * W; ++i) pgi[i] = T(0);
      for (int64_t oh = 0; oh < OH; ++oh) {
        const int64_t h0 = range_start(oh, H, OH), h1 = range_end(oh, H, OH);
        for (int64_t ow = 0; ow < OW; ++ow) {
          const int64_t w0 = range_start(ow, W, OW), w1 = range_end(ow, W, OW);
          const T v = T(double(pg[oh * OW + ow]) / double((h1 - h0) * (w1 - w0)));
          for (int64_t ih = h0; ih < h1; ++ih)
            for (int64_t iw = w0; iw < w1; ++iw) pgi[ih * W + iw] += v;
        }
      }
    }
  });
}

}  // namespace
}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY

TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::AdaptiveAvgPool2dKernel, adaptive_avg_pool2d);
TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::AdaptiveAvgPool2dBackwardKernel,
                                    adaptive_avg_pool2d_backward);
