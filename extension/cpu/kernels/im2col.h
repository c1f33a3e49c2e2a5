// im2col / col2im for 2-D convolution on CPU, over a chunk of images at once.
//
// The columns matrix has one row per (channel, ki, kj) and one column per (image, oh, ow):
//   columns[(c*kh + ki)*kw + kj][n*P + oh*Wo + ow] = x[n][c][oh*sh - pt + ki*dh][ow*sw - pl + kj*dw]
// (zero where that index falls in the padding), P = Ho*Wo. Putting every image of the chunk side
// by side gives the convolution GEMM a wide N even when each image's output is tiny.
#pragma once
#include <ATen/Parallel.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <vector>

#include "../../geometry.h"
#include "gemm.h"
#include "gemm_simd.h"
#include "workspace.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY {

namespace detail {

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

// Tasks per parallel chunk so that each chunk moves roughly `elements` values. At 16384 the
// copies of ResNet's last layers (8 images of 2x2 or 4x4 planes) ran on one thread; at 4096 they
// split, which took the 1x1/2 256->512 conv forward from 87 to 74 us and its backward from 97 to
// 84 us (2 threads), with the larger layers unchanged.
inline int64_t grain_for(int64_t per_task, int64_t elements = 4096) {
  return std::max<int64_t>(1, elements / std::max<int64_t>(1, per_task));
}

// Output rows narrower than this go through the tap table: with only a few pixels per row, the
// row path's per-row loop overhead costs more than the copying itself (measured on ResNet18's
// 4- and 2-pixel rows); from 8 on, the row path's vector copies win.
constexpr int64_t kNarrowRow = 8;

// For every kernel tap (ki, kj) and output pixel p: the offset within an input plane that it
// reads, or in_area (a zero slot just past the plane) where it reads padding. [kh*kw][P].
inline std::vector<int64_t> tap_table(const ConvGeometry& g) {
  std::vector<int64_t> table;
  table.reserve(g.kernel_area() * g.out_area());
  for (int64_t ki = 0; ki < g.kernel_h; ++ki)
    for (int64_t kj = 0; kj < g.kernel_w; ++kj)
      for (int64_t oh = 0; oh < g.out_h; ++oh)
        for (int64_t ow = 0; ow < g.out_w; ++ow) {
          const int64_t ih = oh * g.stride_h - g.pad_top + ki * g.dilation_h;
          const int64_t iw = ow * g.stride_w - g.pad_left + kj * g.dilation_w;
          const bool inside = ih >= 0 && ih < g.height && iw >= 0 && iw < g.width;
          table.push_back(inside ? ih * g.width + iw : g.in_area());
        }
  return table;
}

// Copies n values with vector moves: the rows copied here are short (tens of values), where a
// call to memmove costs more than the copy itself (setup.py keeps GCC from making this loop one).
template <typename T>
inline void copy_row(const T* __restrict__ src, int64_t n, T* __restrict__ dst) {
  using S = gemm_detail::Simd<T>;
  int64_t i = 0;
  for (; i + S::W <= n; i += S::W) S::storeu(dst + i, S::loadu(src + i));
  if (i < n) S::storeu_n(dst + i, S::loadu_n(src + i, int(n - i)), int(n - i));
}

// The part of the zero-padded input plane that some tap of some output pixel reads: rows
// [0, height) and columns [0, width) of the plane shifted by (pad_top, pad_left).
struct PaddedExtent {
  int64_t height, width;
  explicit PaddedExtent(const ConvGeometry& g)
      : height((g.out_h - 1) * g.stride_h + (g.kernel_h - 1) * g.dilation_h + 1),
        width((g.out_w - 1) * g.stride_w + (g.kernel_w - 1) * g.dilation_w + 1) {}
  // Input rows / columns that land inside the extent (stride may skip the last ones).
  int64_t rows(const ConvGeometry& g) const { return std::clamp<int64_t>(height - g.pad_top, 0, g.height); }
  int64_t cols(const ConvGeometry& g) const { return std::clamp<int64_t>(width - g.pad_left, 0, g.width); }
  int64_t area() const { return height * width; }
  // Copies an input plane's rows into a padded buffer at (pad_top, pad_left), leaving the border
  // as it is; copy_out is the reverse, the buffer's interior back into a plane.
  template <typename T>
  void copy_in(const T* plane, const ConvGeometry& g, T* padded) const {
    for (int64_t r = 0; r < rows(g); ++r)
      copy_row(plane + r * g.width, cols(g), padded + (r + g.pad_top) * width + g.pad_left);
  }
  template <typename T>
  void copy_out(const T* padded, const ConvGeometry& g, T* plane) const {
    for (int64_t r = 0; r < rows(g); ++r)
      copy_row(padded + (r + g.pad_top) * width + g.pad_left, cols(g), plane + r * g.width);
  }
};

// im2col one task per (channel, image), row by row: the plane is first copied into a zeroed
// padded buffer (whose border stays zero from task to task), so each columns row is a plain
// copy of out_w elements with no bounds to check.
template <typename T>
void im2col_rows(const T* __restrict__ input, int64_t batch, const ConvGeometry& g,
                 T* __restrict__ columns) {
  const int64_t P = g.out_area(), ld = batch * P;
  const int64_t Wo = g.out_w, sw = g.stride_w, sh = g.stride_h;
  const PaddedExtent ext(g);
  at::parallel_for(0, g.channels * batch, grain_for(g.kernel_area() * P), [&](int64_t begin, int64_t end) {
    std::vector<T> buffer(ext.area(), T(0));
    T* __restrict__ padded = buffer.data();
    for_each_pair(begin, end, batch, [&](int64_t c, int64_t n, int64_t) {
      ext.copy_in(input + (n * g.channels + c) * g.in_area(), g, padded);
      for (int64_t ki = 0; ki < g.kernel_h; ++ki) {
        for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
          T* dst = columns + ((c * g.kernel_h + ki) * g.kernel_w + kj) * ld + n * P;
          const T* src = padded + ki * g.dilation_h * ext.width + kj * g.dilation_w;
          for (int64_t oh = 0; oh < g.out_h; ++oh) {
            T* __restrict__ d = dst + oh * Wo;
            const T* __restrict__ s = src + oh * sh * ext.width;
            if (sw == 1) {
              for (int64_t ow = 0; ow < Wo; ++ow) d[ow] = s[ow];
            } else {
              for (int64_t ow = 0; ow < Wo; ++ow) d[ow] = s[ow * sw];
            }
          }
        }
      }
    });
  });
}

// im2col one task per (channel, image) through the tap table: the plane is copied next to a
// zero, then every columns entry is a single indexed load with no branch.
template <typename T>
void im2col_gather(const T* __restrict__ input, int64_t batch, const ConvGeometry& g,
                   T* __restrict__ columns) {
  const int64_t P = g.out_area(), ld = batch * P, kk = g.kernel_area(), area = g.in_area();
  const std::vector<int64_t> table = tap_table(g);
  const int64_t* __restrict__ taps = table.data();
  at::parallel_for(0, g.channels * batch, grain_for(kk * P), [&](int64_t begin, int64_t end) {
    std::vector<T> padded(area + 1, T(0));
    T* __restrict__ src = padded.data();
    for_each_pair(begin, end, batch, [&](int64_t c, int64_t n, int64_t) {
      copy_row(input + (n * g.channels + c) * area, area, src);
      for (int64_t tap = 0; tap < kk; ++tap) {
        T* __restrict__ d = columns + (c * kk + tap) * ld + n * P;
        const int64_t* __restrict__ t = taps + tap * P;
        for (int64_t p = 0; p < P; ++p) d[p] = src[t[p]];
      }
    });
  });
}

// col2im one task per (image, channel) plane, row by row, accumulating into a zeroed padded
// buffer (so no bounds to check) whose interior is then the plane's gradient. The planes are
// disjoint, so no two tasks write the same pixel.
template <typename T>
void col2im_rows(const T* __restrict__ columns, int64_t batch, const ConvGeometry& g,
                 T* __restrict__ grad_input) {
  const int64_t P = g.out_area(), ld = batch * P;
  const int64_t Wo = g.out_w, sw = g.stride_w, sh = g.stride_h;
  const PaddedExtent ext(g);
  at::parallel_for(0, batch * g.channels, grain_for(g.kernel_area() * P), [&](int64_t begin, int64_t end) {
    std::vector<T> buffer(ext.area());
    T* __restrict__ padded = buffer.data();
    for_each_pair(begin, end, g.channels, [&](int64_t n, int64_t c, int64_t task) {
      std::fill(buffer.begin(), buffer.end(), T(0));
      for (int64_t ki = 0; ki < g.kernel_h; ++ki) {
        for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
          const T* src = columns + ((c * g.kernel_h + ki) * g.kernel_w + kj) * ld + n * P;
          T* dst = padded + ki * g.dilation_h * ext.width + kj * g.dilation_w;
          for (int64_t oh = 0; oh < g.out_h; ++oh) {
            T* __restrict__ d = dst + oh * sh * ext.width;
            const T* __restrict__ s = src + oh * Wo;
            if (sw == 1) {
              for (int64_t ow = 0; ow < Wo; ++ow) d[ow] += s[ow];
            } else {
              for (int64_t ow = 0; ow < Wo; ++ow) d[ow * sw] += s[ow];
            }
          }
        }
      }
      // Pixels no tap reads (skipped by the stride) get zero.
      T* plane = grad_input + task * g.in_area();
      if (ext.rows(g) < g.height || ext.cols(g) < g.width) std::fill_n(plane, g.in_area(), T(0));
      ext.copy_out(padded, g, plane);
    });
  });
}

// col2im one task per (image, channel) plane through the tap table: padding taps add into the
// spare slot past the plane, which is dropped.
template <typename T>
void col2im_scatter(const T* __restrict__ columns, int64_t batch, const ConvGeometry& g,
                    T* __restrict__ grad_input) {
  const int64_t P = g.out_area(), ld = batch * P, kk = g.kernel_area(), area = g.in_area();
  const std::vector<int64_t> table = tap_table(g);
  const int64_t* __restrict__ taps = table.data();
  at::parallel_for(0, batch * g.channels, grain_for(kk * P), [&](int64_t begin, int64_t end) {
    std::vector<T> padded(area + 1);
    T* __restrict__ acc = padded.data();
    for_each_pair(begin, end, g.channels, [&](int64_t n, int64_t c, int64_t task) {
      std::fill_n(acc, area, T(0));
      for (int64_t tap = 0; tap < kk; ++tap) {
        const T* __restrict__ s = columns + (c * kk + tap) * ld + n * P;
        const int64_t* __restrict__ t = taps + tap * P;
        for (int64_t p = 0; p < P; ++p) acc[t[p]] += s[p];
      }
      copy_row(acc, area, grad_input + task * area);
    });
  });
}

// A zero-padded copy of `batch` NCHW images, each plane cut to the extent the taps read:
// padded[(n * channels + c) * ext.area() + r * ext.width + q] = x[n][c][r - pad_top][q - pad_left].
template <typename T>
void pad_images(const T* __restrict__ input, int64_t batch, const ConvGeometry& g,
                const PaddedExtent& ext, T* __restrict__ padded) {
  at::parallel_for(0, batch * g.channels, grain_for(ext.area()), [&](int64_t begin, int64_t end) {
    for (int64_t plane = begin; plane < end; ++plane) {
      T* dst = padded + plane * ext.area();
      std::fill_n(dst, ext.area(), T(0));
      ext.copy_in(input + plane * g.in_area(), g, dst);
    }
  });
}

}  // namespace detail

struct PaddedImages {  // Im2colPanels' per-thread scratch (workspace.h)
  static constexpr const char* name = "im2col padded images";
};

// Whether Im2colPanels handles this geometry: output rows wide enough that a panel is made of
// a few long runs rather than many short ones.
inline bool im2col_panels_supported(const ConvGeometry& g) { return g.out_w >= detail::kNarrowRow; }

// im2col straight into the GEMM's packed-B layout (gemm_prepacked_b): panel p holds columns
// [p * width, (p + 1) * width) as depth x width values row by row, zero past the last column.
// The images are padded once (into this thread's scratch); write() then produces any range of
// panels, so a caller can make a few panels, multiply them while they are still in L2, and
// reuse the buffer for the next few. Each panel is written in one sequential sweep while the
// few padded input rows it reads stay in L1; the GEMM skips packing the columns itself.
template <int64_t width, typename T>
class Im2colPanels {
 public:
  Im2colPanels(const T* input, int64_t batch, const ConvGeometry& g)
      : g_(g), ext_(g), N_(batch * g.out_area()), depth_(g.channels * g.kernel_area()),
        // Strided and small kernels (1x1/2) gather less than they copy: panels hold
        // kh*kw / (sh*sw) times the input, the phase-split copy the whole of it.
        gatherable_(g.out_w % S::W == 0 && N_ % width == 0 &&
                    g.kernel_area() >= g.stride_h * g.stride_w),
        // Gathering at a horizontal stride s reads rows split into s phases (below).
        phases_(gatherable_ ? g.stride_w : 1),
        phase_len_((ext_.width + phases_ - 1) / phases_),
        row_len_(phases_ * phase_len_),
        plane_(ext_.height * row_len_) {
    // One vector of slack: a stride-2 panel row's last vector reads one value past the run.
    T* padded = thread_workspace<PaddedImages, T>(batch * g.channels * plane_ + S::W);
    if (phases_ == 1) {
      detail::pad_images(input, batch, g, ext_, padded);
    } else {
      pad_images_in_phases(input, batch, padded);
    }
    padded_ = padded;
  }

  int64_t count() const { return (N_ + width - 1) / width; }

  // Whether the GEMM reads the panels straight from the padded images (gathered()): output rows
  // a whole number of vectors (no vector straddles two rows), only full panels, and a kernel
  // covering at least as many input values as the stride skips.
  bool gatherable() const { return gatherable_; }
  // The columns as gemm_gathered_b's B over the padded images: vector v (columns [v*W, v*W+W))
  // starts at output pixel j = v*W's tap-(0, 0) input, and row k = (c, ki, kj) adds that tap's
  // offset. At a horizontal stride s each padded row is stored as s phases, phase p holding
  // padded columns p, p + s, p + 2s, ...: output pixel ow's tap kj reads padded column
  // ow*s + kj*dw, which is value ow + (kj*dw) / s of phase (kj*dw) % s, so W consecutive output
  // pixels read W consecutive values. Fills the two offset tables, which must outlive the view.
  GatheredB<T> gathered(std::vector<int64_t>& vector_offsets, std::vector<int64_t>& row_offsets) const {
    const ConvGeometry& g = g_;
    vector_offsets.resize(N_ / S::W);
    for (int64_t v = 0; v < N_ / S::W; ++v) vector_offsets[v] = pixel_offset(v * S::W);
    row_offsets.resize(depth_);
    for (int64_t c = 0, k = 0; c < g.channels; ++c)
      for (int64_t ki = 0; ki < g.kernel_h; ++ki)
        for (int64_t kj = 0; kj < g.kernel_w; ++kj, ++k) {
          const int64_t q = kj * g.dilation_w;
          row_offsets[k] = c * plane_ + ki * g.dilation_h * row_len_ + q % phases_ * phase_len_ + q / phases_;
        }
    return {padded_, vector_offsets.data(), row_offsets.data()};
  }

  // Panels [first, end) into dst (panel `first` at dst[0]), in parallel unless already inside a
  // parallel region. For sources that are not gatherable() (the padded rows are then unsplit).
  void write(int64_t first, int64_t end, T* dst) const {
    at::parallel_for(first, end, detail::grain_for(depth_ * width), [&](int64_t begin, int64_t stop) {
      std::vector<Run> runs;
      for (int64_t panel = begin; panel < stop; ++panel) write_panel(panel, runs, dst + (panel - first) * depth_ * width);
    });
  }

 private:
  using S = gemm_detail::Simd<T>;
  static_assert(width % S::W == 0, "panels are whole vectors wide");
  static constexpr int64_t kVectors = width / S::W;
  // pad_images with each padded row split into phases_ phases (see gathered()).
  void pad_images_in_phases(const T* __restrict__ input, int64_t batch, T* __restrict__ padded) const {
    const ConvGeometry& g = g_;
    const int64_t rows = ext_.rows(g), cols = ext_.cols(g);
    at::parallel_for(0, batch * g.channels, detail::grain_for(plane_), [&](int64_t begin, int64_t end) {
      for (int64_t plane = begin; plane < end; ++plane) {
        T* dst = padded + plane * plane_;
        std::fill_n(dst, plane_, T(0));
        const T* src = input + plane * g.in_area();
        for (int64_t r = 0; r < rows; ++r) {
          const T* __restrict__ in = src + r * g.width;
          for (int64_t p = 0; p < phases_; ++p) {
            // Phase p's value i is padded column i*s + p, input column i*s + p - pad_left.
            T* __restrict__ out = dst + (r + g.pad_top) * row_len_ + p * phase_len_;
            const int64_t first = std::max<int64_t>(0, (g.pad_left - p + phases_ - 1) / phases_);
            const int64_t end = std::min<int64_t>(phase_len_, (cols + g.pad_left - p + phases_ - 1) / phases_);
            for (int64_t i = first; i < end; ++i) out[i] = in[i * phases_ + p - g.pad_left];
          }
        }
      }
    });
  }

  // Where output pixel j (of the batch, image-major) reads its tap-(0, 0) input in the padded
  // images. Along a row it steps by the stride, or by 1 within a phase when rows are split into
  // stride phases (gathered()).
  int64_t pixel_offset(int64_t j) const {
    const ConvGeometry& g = g_;
    const int64_t P = g.out_area(), n = j / P, oh = j % P / g.out_w, ow = j % g.out_w;
    return n * g.channels * plane_ + oh * g.stride_h * row_len_ + ow * (g.stride_w / phases_);
  }

  // A stretch of the panel's columns along one output row: first lane, length, and the offset
  // of its first tap-(0, 0) input in the padded images.
  struct Run {
    int64_t lane, length, offset;
  };

  void write_panel(int64_t panel, std::vector<Run>& runs, T* __restrict__ dst) const {
    const ConvGeometry& g = g_;
    runs.clear();
    const int64_t j_end = std::min(N_, (panel + 1) * width);
    for (int64_t j = panel * width; j < j_end;) {
      const int64_t len = std::min(j_end - j, g.out_w - j % g.out_w);
      runs.push_back({j - panel * width, len, pixel_offset(j)});
      j += len;
    }
    const int64_t filled = j_end - panel * width;
    // A full panel of contiguous runs that are whole vectors long (one output row of 16, or two
    // of 8, for float) is copied a vector at a time, from where each vector's run starts.
    const bool whole_vectors =
        g.stride_w == 1 && filled == width &&
        std::all_of(runs.begin(), runs.end(), [](const Run& run) { return run.length % S::W == 0; });
    std::array<int64_t, kVectors> vector_offsets{};
    if (whole_vectors)
      for (const Run& run : runs)
        for (int64_t e = 0; e < run.length; e += S::W) vector_offsets[(run.lane + e) / S::W] = run.offset + e;
    for (int64_t c = 0; c < g.channels; ++c) {
      for (int64_t ki = 0; ki < g.kernel_h; ++ki) {
        for (int64_t kj = 0; kj < g.kernel_w; ++kj, dst += width) {
          const T* tap = padded_ + c * plane_ + ki * g.dilation_h * row_len_ + kj * g.dilation_w;
          if (whole_vectors) {
            for (int64_t v = 0; v < kVectors; ++v) S::storeu(dst + v * S::W, S::loadu(tap + vector_offsets[v]));
            continue;
          }
          if (runs.size() == 1 && filled == width) {  // one strided run: fixed-length copies
            const T* __restrict__ s = tap + runs[0].offset;
            if (g.stride_w == 2) {  // ResNet's stem and downsampling: every other value
              for (int64_t v = 0; v < kVectors; ++v) S::storeu(dst + v * S::W, S::loadu_even(s + 2 * v * S::W));
            } else {
              for (int64_t e = 0; e < width; ++e) dst[e] = s[e * g.stride_w];
            }
            continue;
          }
          for (const Run& run : runs) {
            const T* __restrict__ s = tap + run.offset;
            T* __restrict__ d = dst + run.lane;
            if (g.stride_w == 1) {
              detail::copy_row(s, run.length, d);
            } else {
              for (int64_t e = 0; e < run.length; ++e) d[e] = s[e * g.stride_w];
            }
          }
          std::fill(dst + filled, dst + width, T(0));
        }
      }
    }
  }

  ConvGeometry g_;
  detail::PaddedExtent ext_;
  int64_t N_, depth_;
  bool gatherable_;
  // Layout of the padded images: phases per row, values per phase, values per row and per plane
  // (1, ext_.width, ext_.width, ext_.area() unless gathering at a stride).
  int64_t phases_, phase_len_, row_len_, plane_;
  const T* padded_;
};

// input: `batch` contiguous NCHW images; columns: [channels*kh*kw, batch*P], row-major.
template <typename T>
void im2col(const T* input, int64_t batch, const ConvGeometry& g, T* columns) {
  if (g.out_w < detail::kNarrowRow) {
    detail::im2col_gather(input, batch, g, columns);
  } else {
    detail::im2col_rows(input, batch, g, columns);
  }
}

// The adjoint of im2col: every input pixel receives the sum of the columns entries that read it.
// columns: [channels*kh*kw, batch*P]; grad_input: `batch` NCHW images, fully overwritten.
template <typename T>
void col2im(const T* columns, int64_t batch, const ConvGeometry& g, T* grad_input) {
  if (g.out_w < detail::kNarrowRow) {
    detail::col2im_scatter(columns, batch, g, grad_input);
  } else {
    detail::col2im_rows(columns, batch, g, grad_input);
  }
}

}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY
