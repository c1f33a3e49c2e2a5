// max_pool2d with indices, avg_pool2d, adaptive_avg_pool2d and their backwards (CUDA kernels). One
// thread per output element forward. The max_pool2d backward scatters through the indices with
// atomic adds; the avg_pool2d and adaptive_avg_pool2d backwards gather (one thread per input element summing the cells that
// read it), needing no atomics.
#include <limits>

#include "cuda_utils.cuh"
#include "pooling.h"

namespace torchext::cuda {
namespace {

template <typename T>
__global__ void max_pool2d_kernel(const T* __restrict__ in, int64_t planes, PoolGeometry g,
                                  T* __restrict__ out, int64_t* __restrict__ indices) {
  using A = acc_t<T>;
  const int64_t total = planes * g.OH * g.OW;
  for (int64_t idx = thread_index(); idx < total; idx += thread_count()) {
    const int64_t ow = idx % g.OW;
    const int64_t oh = (idx / g.OW) % g.OH;
    const T* plane = in + (idx / (g.OW * g.OH)) * g.H * g.W;
    int64_t h0 = oh * g.sh - g.ph, w0 = ow * g.sw - g.pw;
    const int64_t h1 = min(h0 + (g.kh - 1) * g.dh + 1, g.H);
    const int64_t w1 = min(w0 + (g.kw - 1) * g.dw + 1, g.W);
    while (h0 < 0) h0 += g.dh;
    while (w0 < 0) w0 += g.dw;
    A best = -std::numeric_limits<A>::infinity();
    int64_t best_idx = (h0 < h1 && w0 < w1) ? h0 * g.W + w0 : -1;
    for (int64_t h = h0; h < h1; h += g.dh) {
      for (int64_t w = w0; w < w1; w += g.dw) {
        const A v = static_cast<A>(plane[h * g.W + w]);
        if (v > best || v != v) {
          best = v;
          best_idx = h * g.W + w;
        }
      }
    }
    out[idx] = static_cast<T>(best);
    indices[idx] = best_idx;
  }
}

template <typename T, typename A>
__global__ void max_pool2d_backward_kernel(const T* __restrict__ grad_out,
                                           const int64_t* __restrict__ indices, int64_t planes,
                                           int64_t HW, int64_t OHW, A* __restrict__ grad_in) {
  const int64_t total = planes * OHW;
  for (int64_t o = thread_index(); o < total; o += thread_count()) {
    const int64_t i = indices[o];
    if (i >= 0 && i < HW) atomicAdd(grad_in + (o / OHW) * HW + i, static_cast<A>(grad_out[o]));
  }
}

template <typename T>
__global__ void max_pool2d_double_backward_kernel(const T* __restrict__ grad_grad_in,
                                                  const int64_t* __restrict__ indices, int64_t planes,
                                                  int64_t HW, int64_t OHW, T* __restrict__ out) {
  const int64_t total = planes * OHW;
  for (int64_t o = thread_index(); o < total; o += thread_count()) {
    const int64_t i = indices[o];
    out[o] = (i >= 0 && i < HW) ? grad_grad_in[(o / OHW) * HW + i] : T(0);
  }
}

// The divisor of window (oh, ow), 0 when it holds no input element.
__device__ __forceinline__ int64_t avg_divisor(const PoolGeometry& g, int64_t oh, int64_t ow,
                                               bool include_pad, int64_t divisor) {
  const int64_t hs = oh * g.sh - g.ph, ws = ow * g.sw - g.pw;
  const int64_t he = min(hs + g.kh, g.H + g.ph), we = min(ws + g.kw, g.W + g.pw);
  const int64_t rows = min(he, g.H) - max(hs, int64_t(0)), cols = min(we, g.W) - max(ws, int64_t(0));
  if (rows <= 0 || cols <= 0) return 0;
  if (divisor != 0) return divisor;
  return include_pad ? (he - hs) * (we - ws) : rows * cols;
}

template <typename T>
__global__ void avg_pool2d_kernel(const T* __restrict__ in, int64_t planes, PoolGeometry g,
                                  bool include_pad, int64_t divisor, T* __restrict__ out) {
  using A = acc_t<T>;
  const int64_t total = planes * g.OH * g.OW;
  for (int64_t idx = thread_index(); idx < total; idx += thread_count()) {
    const int64_t ow = idx % g.OW;
    const int64_t oh = (idx / g.OW) % g.OH;
    const T* plane = in + (idx / (g.OW * g.OH)) * g.H * g.W;
    const int64_t div = avg_divisor(g, oh, ow, include_pad, divisor);
    const int64_t h0 = max(oh * g.sh - g.ph, int64_t(0)), h1 = min(oh * g.sh - g.ph + g.kh, g.H);
    const int64_t w0 = max(ow * g.sw - g.pw, int64_t(0)), w1 = min(ow * g.sw - g.pw + g.kw, g.W);
    A sum = A(0);
    for (int64_t h = h0; h < h1; ++h)
      for (int64_t w = w0; w < w1; ++w) sum += static_cast<A>(plane[h * g.W + w]);
    out[idx] = div == 0 ? T(0) : static_cast<T>(sum / static_cast<A>(div));
  }
}

// The windows along one dim (stride s, kernel k, padding p, n of them) that hold position i:
// [lo, hi).
__device__ __forceinline__ void windows_holding(int64_t i, int64_t k, int64_t s, int64_t p, int64_t n,
                                                int64_t& lo, int64_t& hi) {
  const int64_t first = i + p - k + 1;  // the earliest window start that reaches i
  lo = first <= 0 ? 0 : (first + s - 1) / s;
  hi = min((i + p) / s + 1, n);
}

template <typename T>
__global__ void avg_pool2d_backward_kernel(const T* __restrict__ grad_out, int64_t planes,
                                           PoolGeometry g, bool include_pad, int64_t divisor,
                                           T* __restrict__ grad_in) {
  using A = acc_t<T>;
  const int64_t total = planes * g.H * g.W;
  for (int64_t idx = thread_index(); idx < total; idx += thread_count()) {
    const int64_t w = idx % g.W;
    const int64_t h = (idx / g.W) % g.H;
    const T* go = grad_out + (idx / (g.W * g.H)) * g.OH * g.OW;
    int64_t oh0, oh1, ow0, ow1;
    windows_holding(h, g.kh, g.sh, g.ph, g.OH, oh0, oh1);
    windows_holding(w, g.kw, g.sw, g.pw, g.OW, ow0, ow1);
    A sum = A(0);
    for (int64_t oh = oh0; oh < oh1; ++oh) {
      for (int64_t ow = ow0; ow < ow1; ++ow) {
        const int64_t div = avg_divisor(g, oh, ow, include_pad, divisor);
        if (div != 0) sum += static_cast<A>(go[oh * g.OW + ow]) / static_cast<A>(div);
      }
    }
    grad_in[idx] = static_cast<T>(sum);
  }
}

__device__ __forceinline__ int64_t range_start(int64_t i, int64_t in, int64_t out) {
  return (i * in) / out;
}
__device__ __forceinline__ int64_t range_end(int64_t i, int64_t in, int64_t out) {
  return ((i + 1) * in + out - 1) / out;
}

template <typename T>
__global__ void adaptive_avg_pool2d_kernel(const T* __restrict__ in, int64_t planes, int64_t H,
                                           int64_t W, int64_t OH, int64_t OW, T* __restrict__ out) {
  using A = acc_t<T>;
  const int64_t total = planes * OH * OW;
  for (int64_t idx = thread_index(); idx < total; idx += thread_count()) {
    const int64_t ow = idx % OW;
    const int64_t oh = (idx / OW) % OH;
    const T* plane = in + (idx / (OW * OH)) * H * W;
    const int64_t h0 = range_start(oh, H, OH), h1 = range_end(oh, H, OH);
    const int64_t w0 = range_start(ow, W, OW), w1 = range_end(ow, W, OW);
    A sum = A(0);
    for (int64_t h = h0; h < h1; ++h)
      for (int64_t w = w0; w < w1; ++w) sum += static_cast<A>(plane[h * W + w]);
    out[idx] = static_cast<T>(sum / static_cast<A>((h1 - h0) * (w1 - w0)));
  }
}

// The output cells [lo, hi) along one dim whose range holds input position i: a superset from
// the range formulas (start(o) <= i implies o < (i+1)*O/L; end(o) > i implies o >= floor(i*O/L)),
// narrowed exactly by the caller's test.
__device__ __forceinline__ void cells_holding(int64_t i, int64_t in, int64_t out, int64_t& lo,
                                              int64_t& hi) {
  lo = (i * out) / in;
  hi = min(((i + 1) * out + in - 1) / in, out);
}

template <typename T>
__global__ void adaptive_avg_pool2d_backward_kernel(const T* __restrict__ grad_out, int64_t planes,
                                                    int64_t H, int64_t W, int64_t OH, int64_t OW,
                                                    T* __restrict__ grad_in) {
  using A = acc_t<T>;
  const int64_t total = planes * H * W;
  for (int64_t idx = thread_index(); idx < total; idx += thread_count()) {
    const int64_t w = idx % W;
    const int64_t h = (idx / W) % H;
    const T* g = grad_out + (idx / (W * H)) * OH * OW;
    int64_t oh0, oh1, ow0, ow1;
    cells_holding(h, H, OH, oh0, oh1);
    cells_holding(w, W, OW, ow0, ow1);
    A sum = A(0);
    for (int64_t oh = oh0; oh < oh1; ++oh) {
      const int64_t h0 = range_start(oh, H, OH), h1 = range_end(oh, H, OH);
      if (h < h0 || h >= h1) continue;
      for (int64_t ow = ow0; ow < ow1; ++ow) {
        const int64_t w0 = range_start(ow, W, OW), w1 = range_end(ow, W, OW);
        if (w < w0 || w >= w1) continue;
        sum += static_cast<A>(g[oh * OW + ow]) / static_cast<A>((h1 - h0) * (w1 - w0));
      }
    }
    grad_in[idx] = static_cast<T>(sum);
  }
}

}  // namespace

template <typename T>
void max_pool2d_launch(const T* in, int64_t planes, const PoolGeometry& g, T* out, int64_t* indices) {
  const int64_t total = planes * g.OH * g.OW;
  if (total == 0) return;
  max_pool2d_kernel<<<grid_for(total), kBlock, 0, current_stream()>>>(in, planes, g, out, indices);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T, typename A>
void max_pool2d_backward_launch(const T* grad_out, const int64_t* indices, int64_t planes,
                                int64_t HW, int64_t OHW, A* grad_in) {
  const int64_t total = planes * OHW;
  if (total == 0) return;
  max_pool2d_backward_kernel<<<grid_for(total), kBlock, 0, current_stream()>>>(
      grad_out, indices, planes, HW, OHW, grad_in);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T>
void max_pool2d_double_backward_launch(const T* grad_grad_in, const int64_t* indices, int64_t planes,
                                       int64_t HW, int64_t OHW, T* out) {
  const int64_t total = planes * OHW;
  if (total == 0) return;
  max_pool2d_double_backward_kernel<<<grid_for(total), kBlock, 0, current_stream()>>>(
      grad_grad_in, indices, planes, HW, OHW, out);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T>
void avg_pool2d_launch(const T* in, int64_t planes, const PoolGeometry& g, bool count_include_pad,
                       int64_t divisor, T* out) {
  const int64_t total = planes * g.OH * g.OW;
  if (total == 0) return;
  avg_pool2d_kernel<<<grid_for(total), kBlock, 0, current_stream()>>>(in, planes, g, count_include_pad,
                                                                     divisor, out);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T>
void avg_pool2d_backward_launch(const T* grad_out, int64_t planes, const PoolGeometry& g,
                                bool count_include_pad, int64_t divisor, T* grad_in) {
  const int64_t total = planes * g.H * g.W;
  if (total == 0) return;
  avg_pool2d_backward_kernel<<<grid_for(total), kBlock, 0, current_stream()>>>(
      grad_out, planes, g, count_include_pad, divisor, grad_in);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T>
void adaptive_avg_pool2d_launch(const T* in, int64_t planes, int64_t H, int64_t W, int64_t OH,
                                int64_t OW, T* out) {
  const int64_t total = planes * OH * OW;
  if (total == 0) return;
  adaptive_avg_pool2d_kernel<<<grid_for(total), kBlock, 0, current_stream()>>>(in, planes, H, W,
                                                                              OH, OW, out);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T>
void adaptive_avg_pool2d_backward_launch(const T* grad_out, int64_t planes, int64_t H, int64_t W,
                                         int64_t OH, int64_t OW, T* grad_in) {
  const int64_t total = planes * H * W;
  if (total == 0) return;
  adaptive_avg_pool2d_backward_kernel<<<grid_for(total), kBlock, 0, current_stream()>>>(
      grad_out, planes, H, W, OH, OW, grad_in);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

#define INSTANTIATE(T)                                                                           \
  template void max_pool2d_launch<T>(const T*, int64_t, const PoolGeometry&, T*, int64_t*);      \
  template void max_pool2d_backward_launch<T, acc_t<T>>(const T*, const int64_t*, int64_t,       \
                                                        int64_t, int64_t, acc_t<T>*);            \
  template void max_pool2d_double_backward_launch<T>(const T*, const int64_t*, int64_t, int64_t,  \
                                                     int64_t, T*);                               \
  template void avg_pool2d_launch<T>(const T*, int64_t, const PoolGeometry&, bool, int64_t, T*);   \
  template void avg_pool2d_backward_launch<T>(const T*, int64_t, const PoolGeometry&, bool, int64_t, \
                                              T*);                                               \
  template void adaptive_avg_pool2d_launch<T>(const T*, int64_t, int64_t, int64_t, int64_t,      \
                                              int64_t, T*);                                      \
  template void adaptive_avg_pool2d_backward_launch<T>(const T*, int64_t, int64_t, int64_t,      \
                                                       int64_t, int64_t, T*);
TORCHEXT_FOR_CUDA_FLOATING_TYPES(INSTANTIATE)
#undef INSTANTIATE

}  // namespace torchext::cuda
