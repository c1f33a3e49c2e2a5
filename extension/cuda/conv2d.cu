// im2col / col2im for the 2-D convolution (CUDA kernels). col2im gathers (each input element sums
// the column entries that came from it) rather than scattering with atomics, so the input
// gradient is deterministic.
#include "conv2d.h"
#include "cuda_utils.cuh"

namespace torchext::cuda {
namespace {

// One thread per (channel, image, output pixel), writing its kh*kw column entries; consecutive
// threads take consecutive output columns, so the stores are coalesced.
template <typename T>
__global__ void im2col_kernel(const T* __restrict__ x, int64_t images, ConvGeometry g,
                              T* __restrict__ columns) {
  const int64_t P = g.out_h * g.out_w, ld = images * P;
  const int64_t total = g.channels * ld;
  for (int64_t idx = thread_index(); idx < total; idx += thread_count()) {
    const int64_t ow = idx % g.out_w;
    int64_t rest = idx / g.out_w;
    const int64_t oh = rest % g.out_h;
    rest /= g.out_h;
    const int64_t n = rest % images;
    const int64_t c = rest / images;
    const T* plane = x + (n * g.channels + c) * g.height * g.width;
    T* col = columns + c * g.kernel_h * g.kernel_w * ld + n * P + oh * g.out_w + ow;
    for (int64_t ki = 0; ki < g.kernel_h; ++ki) {
      const int64_t h = oh * g.stride_h - g.pad_top + ki * g.dilation_h;
      for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
        const int64_t w = ow * g.stride_w - g.pad_left + kj * g.dilation_w;
        const bool inside = h >= 0 && h < g.height && w >= 0 && w < g.width;
        *col = inside ? plane[h * g.width + w] : T(0);
        col += ld;
      }
    }
  }
}

// One thread per input element (NCHW order, so the stores are coalesced): the kernel offsets
// (ki, kj) that read it are those where h + pt - ki*dh is a multiple of the stride that lands
// on an output row, likewise for the columns.
template <typename T, typename A>
__global__ void col2im_kernel(const A* __restrict__ columns, int64_t images, ConvGeometry g,
                              T* __restrict__ out) {
  const int64_t P = g.out_h * g.out_w, ld = images * P;
  const int64_t total = images * g.channels * g.height * g.width;
  for (int64_t idx = thread_index(); idx < total; idx += thread_count()) {
    const int64_t w = idx % g.width;
    int64_t rest = idx / g.width;
    const int64_t h = rest % g.height;
    rest /= g.height;
    const int64_t c = rest % g.channels;
    const int64_t n = rest / g.channels;
    A sum = A(0);
    for (int64_t ki = 0; ki < g.kernel_h; ++ki) {
      const int64_t hs = h + g.pad_top - ki * g.dilation_h;
      if (hs < 0 || hs % g.stride_h != 0 || hs / g.stride_h >= g.out_h) continue;
      const int64_t oh = hs / g.stride_h;
      for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
        const int64_t ws = w + g.pad_left - kj * g.dilation_w;
        if (ws < 0 || ws % g.stride_w != 0 || ws / g.stride_w >= g.out_w) continue;
        const int64_t ow = ws / g.stride_w;
        const int64_t row = (c * g.kernel_h + ki) * g.kernel_w + kj;
        sum += columns[row * ld + n * P + oh * g.out_w + ow];
      }
    }
    out[idx] = static_cast<T>(sum);
  }
}

}  // namespace

template <typename T>
void im2col_launch(const T* x, int64_t images, const ConvGeometry& g, T* columns) {
  const int64_t total = g.channels * images * g.out_area();
  if (total == 0) return;
  im2col_kernel<<<grid_for(total), kBlock, 0, current_stream()>>>(x, images, g, columns);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T, typename A>
void col2im_launch(const A* columns, int64_t images, const ConvGeometry& g, T* out) {
  const int64_t total = images * g.channels * g.in_area();
  if (total == 0) return;
  col2im_kernel<<<grid_for(total), kBlock, 0, current_stream()>>>(columns, images, g, out);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

#define INSTANTIATE(T)                                                                     \
  template void im2col_launch<T>(const T*, int64_t, const ConvGeometry&, T*);              \
  template void col2im_launch<T, acc_t<T>>(const acc_t<T>*, int64_t, const ConvGeometry&, T*);
TORCHEXT_FOR_CUDA_FLOATING_TYPES(INSTANTIATE)
#undef INSTANTIATE

}  // namespace torchext::cuda
