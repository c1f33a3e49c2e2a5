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
#include <vector>

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

// For one kernel offset along one axis: the output positions [lo, hi) whose input position
// o*stride + offset (offset = k*dilation - pad_before) lies inside [0, size).
struct AxisRange {
  int64_t lo, hi, offset;
};

inline AxisRange axis_range(int64_t size, int64_t out, int64_t stride, int64_t offset) {
  int64_t lo = offset >= 0 ? 0 : (-offset + stride - 1) / stride;
  int64_t hi = size - offset <= 0 ? 0 : (size - 1 - offset) / stride + 1;
  lo = std::min(lo, out);
  hi = std::max(lo, std::min(hi, out));
  return {lo, hi, offset};
}

// The valid output ranges of every kernel row (ki) and column (kj), computed once per call so
// that the copy loops do no division.
struct KernelRanges {
  std::vector<AxisRange> rows, cols;
  explicit KernelRanges(const ConvGeometry& g) {
    for (int64_t ki = 0; ki < g.kernel_h; ++ki)
      rows.push_back(axis_range(g.height, g.out_h, g.stride_h, ki * g.dilation_h - g.pad_top));
    for (int64_t kj = 0; kj < g.kernel_w; ++kj)
      cols.push_back(axis_range(g.width, g.out_w, g.stride_w, kj * g.dilation_w - g.pad_left));
  }
};

// Calls fn(outer, inner, index) for index in [begin, end) of an (outer, inner) grid flattened
// row-major with `inner` columns, dividing once rather than per index.
template <typename F>
inline void for_each_pair(int64_t begin, int64_t end, int64_t inner, const F& fn) {
  int64_t outer = begin / inner, in = begin % inner;
  for (int64_t index = begin; index < end; ++index) {
    fn(outer, in, index);
    if (++in == inner) {
      in = 0;
      ++outer;
    }
  }
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
  const int64_t Wo = g.out_w, sw = g.stride_w, sh = g.stride_h;
  const detail::KernelRanges ranges(g);
  // One task per (channel, image): its kh*kw rows of columns, P entries each.
  at::parallel_for(0, g.channels * batch, detail::grain_for(kk * P), [&](int64_t begin, int64_t end) {
    detail::for_each_pair(begin, end, batch, [&](int64_t c, int64_t n, int64_t) {
      const T* plane = input + (n * g.channels + c) * g.in_area();
      for (int64_t ki = 0; ki < g.kernel_h; ++ki) {
        const detail::AxisRange rows = ranges.rows[ki];
        for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
          const detail::AxisRange cols = ranges.cols[kj];
          T* dst = columns + ((c * g.kernel_h + ki) * g.kernel_w + kj) * ld + n * P;
          std::fill(dst, dst + rows.lo * Wo, T(0));
          for (int64_t oh = rows.lo; oh < rows.hi; ++oh) {
            T* d = dst + oh * Wo;
            const T* s = plane + (oh * sh + rows.offset) * g.width;  // input row
            const int64_t off = cols.offset;
            std::fill(d, d + cols.lo, T(0));
            if (sw == 1) {
              for (int64_t ow = cols.lo; ow < cols.hi; ++ow) d[ow] = s[ow + off];
            } else {
              for (int64_t ow = cols.lo; ow < cols.hi; ++ow) d[ow] = s[ow * sw + off];
            }
            std::fill(d + cols.hi, d + Wo, T(0));
          }
          std::fill(dst + rows.hi * Wo, dst + P, T(0));
        }
      }
    });
  });
}

// The adjoint of im2col: every input pixel receives the sum of the columns entries that read it.
// columns: [channels*kh*kw, batch*P]; grad_input: `batch` NCHW images, fully overwritten.
template <typename T>
void col2im(const T* __restrict__ columns, int64_t batch, const ConvGeometry& g,
            T* __restrict__ grad_input) {
  const int64_t P = g.out_area(), ld = batch * P;
  const int64_t Wo = g.out_w, sw = g.stride_w, sh = g.stride_h;
  const detail::KernelRanges ranges(g);
  // One task per (image, channel) plane: the planes are disjoint, so no two tasks write the
  // same pixel.
  at::parallel_for(0, batch * g.channels, detail::grain_for(g.kernel_area() * P),
                   [&](int64_t begin, int64_t end) {
    detail::for_each_pair(begin, end, g.channels, [&](int64_t n, int64_t c, int64_t task) {
      T* plane = grad_input + task * g.in_area();
      std::fill(plane, plane + g.in_area(), T(0));
      for (int64_t ki = 0; ki < g.kernel_h; ++ki) {
        const detail::AxisRange rows = ranges.rows[ki];
        for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
          const detail::AxisRange cols = ranges.cols[kj];
          const T* src = columns + ((c * g.kernel_h + ki) * g.kernel_w + kj) * ld + n * P;
          for (int64_t oh = rows.lo; oh < rows.hi; ++oh) {
            T* d = plane + (oh * sh + rows.offset) * g.width;  // input row
            const T* s = src + oh * Wo;
            const int64_t off = cols.offset;
            if (sw == 1) {
              for (int64_t ow = cols.lo; ow < cols.hi; ++ow) d[ow + off] += s[ow];
            } else {
              for (int64_t ow = cols.lo; ow < cols.hi; ++ow) d[ow * sw + off] += s[ow];
            }
          }
        }
      }
    });
  });
}

}  // namespace torchext::cpu
