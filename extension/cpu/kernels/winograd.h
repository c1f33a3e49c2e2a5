// Winograd convolution F(m x m, 3x3) for 3x3, stride-1, undilated, ungrouped convolutions
// (Lavin and Gray, "Fast Algorithms for Convolutional Neural Networks", 2015):
//   Y = A^T [ (G g G^T) (.) (B^T d B) ] A
// per m x m output tile, with d the (m+2) x (m+2) input patch and g the 3x3 filter. Summed over
// input channels, each of the (m+2)^2 transformed positions is one GEMM:
//   M[xi] (K x tiles) = U[xi] (K x C) @ V[xi] (C x tiles),
// which takes (m+2)^2 / m^2 multiplies per output pixel and channel pair instead of 9: 4 for
// F(2x2,3x3) (2.25x fewer), 2.25 for F(4x4,3x3) (4x fewer).
#pragma once
#include <cstdint>

#include "../../geometry.h"
#include "capability.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY {

// One convolution in the forward's terms: `in_channels` planes of height x width in, and
// `out_channels` planes of out_h x out_w out, with out = in + pads - 2 in each direction.
struct WinogradShape {
  int64_t batch, in_channels, out_channels;
  int64_t height, width, pad_top, pad_left, out_h, out_w;
};

// out[n][k] = bias[k] + sum_c correlate(x[n][c], g(k, c)) with the filter g(k, c) read from
// `weight` as
//   transposed == false:  weight[k][c][i][j]          (conv2d's [out, in, 3, 3] weight)
//   transposed == true:   weight[c][k][2 - i][2 - j]  (the same weight, used to take conv2d's
//                                                      input gradient as a convolution)
// tile is 2 (F(2x2,3x3)) or 4 (F(4x4,3x3)); bias may be null. Parallel over the calling thread
// pool.
template <typename T>
void winograd_conv3x3(const WinogradShape& s, int tile, const T* x, const T* weight, bool transposed,
                      const T* bias, T* out);

// grad_weight[k][c][i][j] = sum over n, y, x of grad_out[n][k][y][x] * x[n][c][y + i - pad_top][x + j - pad_left]
// (zero outside the input): the weight gradient of the forward convolution of shape s, by the
// same F(tile x tile, 3x3) transforms. Parallel over the calling thread pool.
template <typename T>
void winograd_weight_grad3x3(const WinogradShape& s, int tile, const T* x, const T* grad_out, T* grad_weight);

// conv2d's forward (and weight gradient) in these terms.
inline WinogradShape winograd_forward(const Conv2dArgs& s) {
  const ConvGeometry& g = s.geo;
  return {s.batch, g.channels, s.out_channels, g.height, g.width, g.pad_top, g.pad_left, g.out_h, g.out_w};
}

// conv2d's input gradient: grad_in = conv(grad_out, flipped transposed weight) with padding
// 2 - pad on every side (conv2d_algorithm.h only picks Winograd where that is at least 0).
inline WinogradShape winograd_input_grad(const Conv2dArgs& s) {
  const ConvGeometry& g = s.geo;
  return {s.batch, s.out_channels, g.channels, g.out_h, g.out_w, 2 - g.pad_top, 2 - g.pad_left, g.height, g.width};
}

}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY
