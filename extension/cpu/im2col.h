// im2col / col2im for 2-D convolution on CPU, over a chunk of images at once.
//
// The columns matrix has one row per (channel, ki, kj) and one column per (image, oh, ow):
//   columns[(c*kh + ki)*kw + kj][n*P + oh*Wo + ow] = x[n][c][oh*sh - pt + ki*dh][ow*sw - pl + kj*dw]
// (zero where that index falls in the padding), P = Ho*Wo. Putting every image of the chunk side
// by side gives the convolution GEMM a wide N even when each image's output is tiny.
#pragma once
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>

namespace torchext::cpu {

struct ConvGeometry {
  int64_t channels, height, width;  // one input image
  int64_t kernel_h, kernel_w;
  int64_t stride_h, stride_w;
  int64_t pad_top, pad_left;  // bottom/right padding only shows through out_h/out_w
  int64_t dilation_h, dilation_w;
  int64_t out_h, out_w;

  int64_t kernel_area() const { return kernel_h * kernel_w; }
  int64_t out_area() const { return out_h * out_w; }
  int64_t in_area() const { return height * width; }
};

namespace detail {

// Output columns [lo, hi) of one kernel column kj read inside the input row:
// 0 <= ow*sw + offset < width with offset = kj*dw - pl.
inline void valid_ow_range(const ConvGeometry& g, int64_t kj, int64_t& lo, int64_t& hi) {
  const int64_t offset = kj * g.dilation_w - g.pad_left;
  lo = offset >= 0 ? 0 : (-offset + g.stride_w - 1) / g.stride_w;
  hi = g.width - offset <= 0 ? 0 : (g.width - 1 - offset) / g.stride_w + 1;
  lo = std::min(lo, g.out_w);
  hi = std::max(lo, std::min(hi, g.out_w));
}

// Tasks per parallel chunk so that each chunk moves roughly `elements` values.
inline int64_t grain_for(int64_t per_task, int64_t elements = 16384) {
  return std::max<int64_t>(1, elements / std::max<int64_t>(1, per_task));
}

}  // namespace detail

// input: `batch` contiguous NCHW images; columns: [channels*kh*kw, batch*P], row-major.
template <typename T>
void im2col(const T* __restrict__ input, int64_t batch, const ConvGeometry& g,
            T* __restrict__ columns) {
  const int64_t kk = g.kernel_area(), P = g.out_area(), ld = batch * P;
  const int64_t rows = g.channels * kk;
  at::parallel_for(0, rows * batch, detail::grain_for(P), [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t row = task / batch, n = task % batch;
      const int64_t c = row / kk, ki = (row / g.kernel_w) % g.kernel_h, kj = row % g.kernel_w;
      const T* plane = input + (n * g.channels + c) * g.in_area();
      T* dst = columns + row * ld + n * P;
      int64_t lo, hi;
      detail::valid_ow_range(g, kj, lo, hi);
      const int64_t col_offset = kj * g.dilation_w - g.pad_left;
      for (int64_t oh = 0; oh < g.out_h; ++oh) {
        T* d = dst + oh * g.out_w;
        const int64_t ih = oh * g.stride_h - g.pad_top + ki * g.dilation_h;
        if (ih < 0 || ih >= g.height) {
          std::fill(d, d + g.out_w, T(0));
          continue;
        }
        const T* s = plane + ih * g.width;
        std::fill(d, d + lo, T(0));
        if (g.stride_w == 1) {
          for (int64_t ow = lo; ow < hi; ++ow) d[ow] = s[ow + col_offset];
        } else {
          for (int64_t ow = lo; ow < hi; ++ow) d[ow] = s[ow * g.stride_w + col_offset];
        }
        std::fill(d + hi, d + g.out_w, T(0));
      }
    }
  });
}

// The adjoint of im2col: every input pixel receives the sum of the columns entries that read it.
// columns: [channels*kh*kw, batch*P]; grad_input: `batch` NCHW images, fully overwritten.
template <typename T>
void col2im(const T* __restrict__ columns, int64_t batch, const ConvGeometry& g,
            T* __restrict__ grad_input) {
  const int64_t kk = g.kernel_area(), P = g.out_area(), ld = batch * P;
  const int64_t planes = batch * g.channels;
  // One task per (image, channel) plane: the planes are disjoint, so no two tasks write the
  // same pixel.
  at::parallel_for(0, planes, detail::grain_for(kk * P), [&](int64_t begin, int64_t end) {
    for (int64_t plane_index = begin; plane_index < end; ++plane_index) {
      const int64_t n = plane_index / g.channels, c = plane_index % g.channels;
      T* plane = grad_input + plane_index * g.in_area();
      std::fill(plane, plane + g.in_area(), T(0));
      for (int64_t ki = 0; ki < g.kernel_h; ++ki) {
        for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
          const T* src = columns + ((c * g.kernel_h + ki) * g.kernel_w + kj) * ld + n * P;
          int64_t lo, hi;
          detail::valid_ow_range(g, kj, lo, hi);
          const int64_t col_offset = kj * g.dilation_w - g.pad_left;
          for (int64_t oh = 0; oh < g.out_h; ++oh) {
            const int64_t ih = oh * g.stride_h - g.pad_top + ki * g.dilation_h;
            if (ih < 0 || ih >= g.height) continue;
            T* d = plane + ih * g.width;
            const T* s = src + oh * g.out_w;
            if (g.stride_w == 1) {
              for (int64_t ow = lo; ow < hi; ++ow) d[ow + col_offset] += s[ow];
            } else {
              for (int64_t ow = lo; ow < hi; ++ow) d[ow * g.stride_w + col_offset] += s[ow];
            }
          }
        }
      }
    }
  });
}

}  // namespace torchext::cpu
