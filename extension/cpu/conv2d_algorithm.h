// Which convolutions run as Winograd F(2x2,3x3) or F(4x4,3x3) or as the direct depthwise kernels,
// and the user's switches for it (torchext.backends.cpu: allow_winograd, conv_algorithm). Generic
// code: one copy of the settings for every capability's kernels.
#pragma once
#include <algorithm>
#include <atomic>
#include <cstdint>

#include "../geometry.h"
#include "conv2d_dispatch.h"
#include "depthwise_dispatch.h"

namespace torchext::cpu {

// conv_algorithm: kAuto picks per shape by the cost rule below; the others force one algorithm
// wherever it applies (tests and benchmarks compare them).
enum class ConvAlgorithm : int { kAuto = 0, kDirect = 1, kWinograd2 = 2, kWinograd4 = 3, kDepthwise = 4 };

struct ConvSettings {
  // Winograd rounds more than direct convolution: F(2x2,3x3) up to about 3x native float32's
  // error in the input gradient, F(4x4,3x3) up to about 9x. Off, kAuto keeps to direct
  // convolution, whose error is native's.
  std::atomic<bool> allow_winograd{true};
  std::atomic<int> algorithm{static_cast<int>(ConvAlgorithm::kAuto)};
};

inline ConvSettings& conv_settings() {
  static ConvSettings settings;
  return settings;
}

// The cost model that picks the algorithm, in multiply-adds per (input, output) channel pair:
//   direct:        9 per output pixel
//   F(m x m, 3x3): (m+2)^2 per tile, with the GEMM at least kWinogradMinTiles tiles wide (a
//                  narrower one runs no faster), plus the filter transform (kFilterTransformCost
//                  tiles' worth) and the input and output transforms (kTileTransformCost per tile
//                  per channel, shared over the other side's channels).
// Winograd is chosen when its cost is below kWinogradMaxCostShare of direct's. The constants come
// from timing ResNet18's 3x3 layers at batch 1, 8 and 64 (python -m torchext bench, per-op rows).
constexpr int64_t kWinogradMinTiles = 16;
constexpr double kFilterTransformCost = 8;
constexpr double kTileTransformCost = 8;
constexpr double kWinogradMaxCostShare = 0.7;

// Bottom and right padding (the geometry keeps only top and left): out = in + pads - 2.
inline int64_t pad_bottom(const ConvGeometry& g) { return g.out_h + 2 - g.height - g.pad_top; }
inline int64_t pad_right(const ConvGeometry& g) { return g.out_w + 2 - g.width - g.pad_left; }

// The tile size (2 or 4) for this convolution's forward, or for its input gradient, or 0 for
// the direct path.
inline int winograd_tile(const Conv2dArgs& s, bool input_grad) {
  const ConvGeometry& g = s.geo;
  if (s.groups != 1 || g.kernel_h != 3 || g.kernel_w != 3 || g.stride_h != 1 || g.stride_w != 1 ||
      g.dilation_h != 1 || g.dilation_w != 1)
    return 0;
  // The input gradient convolves grad_out padded by 2 - pad: padding over 2 has no such form.
  if (input_grad && (g.pad_top > 2 || g.pad_left > 2 || pad_bottom(g) > 2 || pad_right(g) > 2)) return 0;
  const ConvSettings& settings = conv_settings();
  switch (static_cast<ConvAlgorithm>(settings.algorithm.load())) {
    case ConvAlgorithm::kDirect: return 0;
    case ConvAlgorithm::kWinograd2: return 2;
    case ConvAlgorithm::kWinograd4: return 4;
    case ConvAlgorithm::kAuto: break;
  }
  if (!settings.allow_winograd.load()) return 0;
  const int64_t h = input_grad ? g.height : g.out_h, w = input_grad ? g.width : g.out_w;
  const int64_t in_channels = input_grad ? s.out_channels : g.channels;
  const int64_t out_channels = input_grad ? g.channels : s.out_channels;
  const double transform_share = kTileTransformCost * (1.0 / in_channels + 1.0 / out_channels);
  int best = 0;
  double best_cost = kWinogradMaxCostShare * 9.0 * s.batch * h * w;
  for (int m : {2, 4}) {
    const double tiles = double(s.batch) * ((h + m - 1) / m) * ((w + m - 1) / m);
    const double cost = (m + 2) * (m + 2) *
                        (std::max<double>(tiles, kWinogradMinTiles) + kFilterTransformCost + tiles * transform_share);
    if (cost < best_cost) {
      best = m;
      best_cost = cost;
    }
  }
  return best;
}

// The tile (or 0: direct) of each of a convolution's products: the forward and the weight
// gradient work on the output's plane, the input gradient on the input's.
inline ConvTiles conv_tiles(const Conv2dArgs& s) {
  return {winograd_tile(s, false), winograd_tile(s, true), winograd_tile(s, false)};
}

// The depthwise kernels (groups == channels) pad each plane into scratch (DepthwiseLayout); they
// stay off where that would dwarf the planes themselves (dilation or padding far beyond the
// image: im2col's columns stay small there).
constexpr int64_t kDepthwiseScratchFactor = 16;
inline bool depthwise_applies(const Conv2dArgs& s) {
  const ConvGeometry& g = s.geo;
  if (s.groups != g.channels) return false;
  const DepthwiseLayout l(g);
  // In double: with absurd dilation and padding (a small output) the products overflow int64.
  const double scratch = double(l.rows) * double(g.stride_w) * double(l.len) +
                         double(s.out_per_group()) * double(g.out_h) * double(l.grad_len);
  const double planes = double(g.in_area()) + double(s.out_per_group()) * double(g.out_area());
  return scratch <= kDepthwiseScratchFactor * planes + double(1 << 16);
}

// Whether this convolution runs on the depthwise kernels: in kAuto wherever they apply with
// several groups (one channel, groups == 1, stays an ordinary convolution), forced by kDepthwise
// wherever they apply, never under the other settings (kDirect: im2col / implicit GEMM).
inline bool use_depthwise(const Conv2dArgs& s) {
  if (!depthwise_applies(s)) return false;
  switch (static_cast<ConvAlgorithm>(conv_settings().algorithm.load())) {
    case ConvAlgorithm::kAuto: return s.groups > 1;
    case ConvAlgorithm::kDepthwise: return true;
    default: return false;
  }
}

}  // namespace torchext::cpu
