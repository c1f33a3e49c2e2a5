// Depthwise 2-D convolution (CPU), direct: groups == channels, so every output plane is one input
// plane convolved with one kh x kw filter, far too little work per group for im2col + GEMM (a
// GEMM of one row per group and kh*kw deep) to pay.
//
// Each plane is first padded into scratch (DepthwiseLayout): the input split into column phases,
// so that a strided tap reads unit-stride values, and grad_output with zero borders. Every output
// row is then a sum of taps, each a weight times a shifted scratch row, a block of outputs at a
// time in vector registers (row_block):
//   forward:     out_m[oh][ow] = bias + sum_{ki,kj} w_m[ki][kj] * x[oh*sh - pt + ki*dh][ow*sw - pl + kj*dw]
//   input grad:  grad_in[ih][iw] = sum of w_m[ki][kj] * grad_out_m[oh][ow] over the (m, ki, kj) whose
//                output (oh, ow) reads (ih, iw). Within one column phase iw = p + sw*t the taps
//                that apply, and their offsets in t, are the same for every t: each phase of a
//                row is again a sum of shifted rows.
//   weight grad: grad_w_m[ki][kj] = the sum over images of (grad_out_m . the tap's shifted input),
//                each image's sum in vector lanes, then over images in order.
// The forward runs in parallel over (image, channel) planes; the backward over channels, each
// thread summing its channels' weight gradients over every image: no result depends on the
// number of threads.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstring>
#include <utility>
#include <vector>

#include "../depthwise_dispatch.h"
#include "workspace.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY {
namespace {

template <typename T>
using Vec [[gnu::vector_size(32)]] = T;
template <typename T>
constexpr int64_t kVL = 32 / sizeof(T);
constexpr int kMaxVectors = 4;  // per block: 4 x kVL<float> = DepthwiseLayout::kBlock

template <typename T>
inline Vec<T> load(const T* p) {
  Vec<T> v;
  std::memcpy(&v, p, sizeof(v));
  return v;
}

struct PaddedInput {
  static constexpr const char* name = "depthwise conv2d input";
};
struct PaddedGrad {
  static constexpr const char* name = "depthwise conv2d grad_output";
};

// dst[i * stride] for the n outputs from o: init + sum over taps of weight[t] * src[t][o + i], in
// R vectors (src readable up to R vectors from o).
template <int R, typename T>
inline void row_block(const T* const* src, const T* weight, int64_t taps, int64_t o, int64_t n, T init,
                      T* dst, int64_t stride) {
  constexpr int64_t VL = kVL<T>;
  Vec<T> acc[R];
  for (int r = 0; r < R; ++r) acc[r] = Vec<T>{} + init;
  for (int64_t t = 0; t < taps; ++t) {
    const T wt = weight[t];
    const T* s = src[t] + o;
    for (int r = 0; r < R; ++r) acc[r] += wt * load(s + r * VL);
  }
  T values[R * VL];
  std::memcpy(values, acc, sizeof(values));
  if (stride == 1) {
    std::memcpy(dst + o, values, n * sizeof(T));
  } else {
    for (int64_t i = 0; i < n; ++i) dst[(o + i) * stride] = values[i];
  }
}

// row_block over [0, count): whole blocks of kMaxVectors vectors, then the rest in as few
// vectors as hold it (a 7-wide row takes one vector of 8 floats, not a block of 32).
template <typename T>
void taps_row(const T* const* src, const T* weight, int64_t taps, int64_t count, T init, T* dst,
              int64_t stride) {
  constexpr int64_t VL = kVL<T>, B = kMaxVectors * VL;
  int64_t o = 0;
  for (; o + B <= count; o += B) row_block<kMaxVectors>(src, weight, taps, o, B, init, dst, stride);
  const int64_t rest = count - o;
  switch ((rest + VL - 1) / VL) {
    case 0: break;
    case 1: row_block<1>(src, weight, taps, o, rest, init, dst, stride); break;
    case 2: row_block<2>(src, weight, taps, o, rest, init, dst, stride); break;
    case 3: row_block<3>(src, weight, taps, o, rest, init, dst, stride); break;
    default: row_block<kMaxVectors>(src, weight, taps, o, rest, init, dst, stride); break;
  }
}

// dst[0, len): zeros before `first`, then row[0], row[step], ... up to `end`, then zeros.
template <typename T>
inline void fill_row(T* __restrict__ dst, int64_t len, int64_t first, int64_t end, const T* __restrict__ row,
                     int64_t step) {
  first = std::clamp<int64_t>(first, 0, len);
  end = std::clamp<int64_t>(end, first, len);
  std::fill(dst, dst + first, T(0));
  if (step == 1) {
    std::memcpy(dst + first, row, (end - first) * sizeof(T));
  } else {
    for (int64_t i = first; i < end; ++i) dst[i] = row[(i - first) * step];
  }
  std::fill(dst + end, dst + len, T(0));
}

// The ceiling of a / b for b > 0, any sign of a.
inline int64_t ceil_div(int64_t a, int64_t b) { return a > 0 ? (a + b - 1) / b : -(-a / b); }

// One input plane into its padded, phase-split scratch (DepthwiseLayout): phase p of padded row r
// holds x[r - pt][p - pl + sw*i] at i (zero outside the image).
template <typename T>
void pad_input(const T* __restrict__ x, const ConvGeometry& g, const DepthwiseLayout& l, T* __restrict__ dst) {
  const int64_t sw = g.stride_w;
  for (int64_t r = 0; r < l.rows; ++r) {
    const int64_t ih = r - g.pad_top;
    for (int64_t p = 0; p < sw; ++p) {
      T* d = dst + (r * sw + p) * l.len;
      if (ih < 0 || ih >= g.height) {
        std::fill(d, d + l.len, T(0));
        continue;
      }
      // Column c = p - pl + sw*i is inside for i in [first, end).
      const int64_t first = std::max<int64_t>(0, ceil_div(g.pad_left - p, sw));
      const int64_t end = ceil_div(g.width + g.pad_left - p, sw);
      fill_row(d, l.len, first, end, x + ih * g.width + (first * sw + p - g.pad_left), sw);
    }
  }
}

// One grad_output plane into scratch: row oh at grad_left, zero around.
template <typename T>
void pad_grad(const T* __restrict__ go, const ConvGeometry& g, const DepthwiseLayout& l, T* __restrict__ dst) {
  for (int64_t oh = 0; oh < g.out_h; ++oh) {
    fill_row(dst + oh * l.grad_len, l.grad_len, l.grad_left, l.grad_left + g.out_w, go + oh * g.out_w, 1);
  }
}

// Where each tap (ki, kj) of output row 0 starts in the padded input; row oh's start `pitch`
// values further per row (computed once: the divisions are too slow for every row).
struct InputTaps {
  std::vector<int64_t> offset;
  int64_t pitch;
  InputTaps(const ConvGeometry& g, const DepthwiseLayout& l) : offset(g.kernel_area()), pitch(g.stride_h * g.stride_w * l.len) {
    for (int64_t ki = 0; ki < g.kernel_h; ++ki) {
      for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
        const int64_t r = ki * g.dilation_h, c = kj * g.dilation_w;
        offset[ki * g.kernel_w + kj] = (r * g.stride_w + c % g.stride_w) * l.len + c / g.stride_w;
      }
    }
  }
};

template <typename T>
void depthwise_forward(const Conv2dArgs& s, const T* x, const T* w, const T* bias, T* out) {
  const ConvGeometry& g = s.geo;
  const DepthwiseLayout l(g);
  const int64_t C = g.channels, mult = s.out_per_group(), taps = g.kernel_area();
  const InputTaps input_taps(g, l);
  at::parallel_for(0, s.batch * C, 1, [&](int64_t lo, int64_t hi) {
    T* padded = thread_workspace<PaddedInput, T>(l.input_elements(g));
    std::vector<const T*> src(taps);
    for (int64_t plane = lo; plane < hi; ++plane) {
      const int64_t n = plane / C, c = plane % C;
      pad_input(x + plane * g.in_area(), g, l, padded);
      for (int64_t m = 0; m < mult; ++m) {
        const int64_t co = c * mult + m;
        T* o = out + (n * s.out_channels + co) * g.out_area();
        const T b = bias ? bias[co] : T(0);
        for (int64_t oh = 0; oh < g.out_h; ++oh) {
          const T* row = padded + oh * input_taps.pitch;
          for (int64_t t = 0; t < taps; ++t) src[t] = row + input_taps.offset[t];
          taps_row(src.data(), w + co * taps, taps, g.out_w, b, o + oh * g.out_w, 1);
        }
      }
    }
  });
}

// Which taps reach each input row and column phase (computed once: the divisions are too slow
// for every row): row[ih * kh + ki] is the grad_output row that kernel row ki takes to input row
// ih (-1: none), columns[p] the (kj, shift) whose outputs reach column phase p, the phase's value
// t coming from grad_output column t + shift.
struct GradTaps {
  std::vector<int64_t> row;
  std::vector<std::vector<std::pair<int64_t, int64_t>>> columns;
  explicit GradTaps(const ConvGeometry& g) : row(g.height * g.kernel_h, -1), columns(std::min(g.stride_w, g.width)) {
    for (int64_t ih = 0; ih < g.height; ++ih) {
      for (int64_t ki = 0; ki < g.kernel_h; ++ki) {
        const int64_t hs = ih + g.pad_top - ki * g.dilation_h;
        if (hs >= 0 && hs % g.stride_h == 0 && hs / g.stride_h < g.out_h) row[ih * g.kernel_h + ki] = hs / g.stride_h;
      }
    }
    const int64_t sw = g.stride_w;
    for (int64_t p = 0; p < int64_t(columns.size()); ++p) {
      for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
        const int64_t ws = p + g.pad_left - kj * g.dilation_w;  // output column * sw at t = 0
        if ((ws % sw + sw) % sw == 0) columns[p].emplace_back(kj, ws / sw);
      }
    }
  }
};

// Input gradient of one plane from its `mult` padded grad_output planes: row by row, phase by phase.
template <typename T>
void input_grad_plane(const T* grads, const T* w, const ConvGeometry& g, const DepthwiseLayout& l,
                      const GradTaps& grad_taps, int64_t mult, std::vector<const T*>& src, std::vector<T>& weight,
                      T* gi) {
  const int64_t taps = g.kernel_area(), sw = g.stride_w;
  for (int64_t ih = 0; ih < g.height; ++ih) {
    for (int64_t p = 0; p < int64_t(grad_taps.columns.size()); ++p) {
      int64_t count = 0;
      for (int64_t ki = 0; ki < g.kernel_h; ++ki) {
        const int64_t oh = grad_taps.row[ih * g.kernel_h + ki];
        if (oh < 0) continue;
        for (const auto& [kj, shift] : grad_taps.columns[p]) {
          for (int64_t m = 0; m < mult; ++m) {
            src[count] = grads + (m * g.out_h + oh) * l.grad_len + l.grad_left + shift;
            weight[count++] = w[m * taps + ki * g.kernel_w + kj];
          }
        }
      }
      taps_row(src.data(), weight.data(), count, (g.width - p + sw - 1) / sw, T(0), gi + ih * g.width + p, sw);
    }
  }
}

// Adds each tap's sum over one plane of grad_out_m * its shifted input to sums[m * taps + tap]:
// whole vectors of each row in lanes (summed per row, then over rows, to keep the sums short),
// the row's last values in a vector whose lanes past the row's end are dropped (they may meet an
// inf or NaN in input columns no output reads).
template <typename T>
void weight_grad_plane(const T* padded, const T* grads, const ConvGeometry& g, const DepthwiseLayout& l,
                       const InputTaps& input_taps, int64_t mult, T* sums) {
  constexpr int64_t VL = kVL<T>;
  using Mask = decltype(Vec<T>{} < Vec<T>{});
  const int64_t whole = g.out_w / VL * VL;
  Vec<T> lane{};
  for (int64_t i = 0; i < VL; ++i) lane[i] = T(i);
  const Mask tail_mask = lane < Vec<T>{} + T(g.out_w - whole);
  for (int64_t m = 0; m < mult; ++m) {
    for (int64_t tap = 0; tap < g.kernel_area(); ++tap) {
      Vec<T> lanes = {};
      for (int64_t oh = 0; oh < g.out_h; ++oh) {
        const T* xs = padded + oh * input_taps.pitch + input_taps.offset[tap];
        const T* gs = grads + (m * g.out_h + oh) * l.grad_len + l.grad_left;
        Vec<T> r0 = {}, r1 = {};  // two chains: the adds overlap
        int64_t o = 0;
        for (; o + 2 * VL <= whole; o += 2 * VL) {
          r0 += load(gs + o) * load(xs + o);
          r1 += load(gs + o + VL) * load(xs + o + VL);
        }
        if (o < whole) r0 += load(gs + o) * load(xs + o);
        if (whole < g.out_w) r1 += tail_mask ? load(gs + whole) * load(xs + whole) : Vec<T>{};
        lanes += r0 + r1;
      }
      T sum = 0;
      for (int64_t i = 0; i < VL; ++i) sum += lanes[i];
      sums[m * g.kernel_area() + tap] += sum;
    }
  }
}

template <typename T>
void depthwise_backward(const Conv2dArgs& s, const T* gout, const T* x, const T* w, T* grad_in, T* grad_w) {
  const ConvGeometry& g = s.geo;
  const DepthwiseLayout l(g);
  const int64_t C = g.channels, mult = s.out_per_group(), taps = g.kernel_area();
  const InputTaps input_taps(g, l);
  const GradTaps grad_taps(g);
  at::parallel_for(0, C, 1, [&](int64_t lo, int64_t hi) {
    T* padded = grad_w ? thread_workspace<PaddedInput, T>(l.input_elements(g)) : nullptr;
    T* grads = thread_workspace<PaddedGrad, T>(l.grad_elements(g, mult));
    std::vector<const T*> src(mult * taps);
    std::vector<T> weight(mult * taps), sums(mult * taps);
    for (int64_t c = lo; c < hi; ++c) {
      std::fill(sums.begin(), sums.end(), T(0));
      for (int64_t n = 0; n < s.batch; ++n) {
        for (int64_t m = 0; m < mult; ++m) {
          pad_grad(gout + (n * s.out_channels + c * mult + m) * g.out_area(), g, l, grads + m * g.out_h * l.grad_len);
        }
        const int64_t plane = n * C + c;
        if (grad_in) input_grad_plane(grads, w + c * mult * taps, g, l, grad_taps, mult, src, weight, grad_in + plane * g.in_area());
        if (grad_w) {
          pad_input(x + plane * g.in_area(), g, l, padded);
          weight_grad_plane(padded, grads, g, l, input_taps, mult, sums.data());
        }
      }
      if (grad_w) std::copy(sums.begin(), sums.end(), grad_w + c * mult * taps);
    }
  });
}

}  // namespace

}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY

TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::DepthwiseForwardKernel, depthwise_forward);
TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::DepthwiseBackwardKernel, depthwise_backward);
