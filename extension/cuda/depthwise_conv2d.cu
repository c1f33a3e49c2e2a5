// Direct depthwise convolution (CUDA): one thread per output (forward) or per input element
// (input gradient, gathering the outputs that read it, so no atomics), and one block per weight
// (weight gradient, its sum over images and pixels reduced in shared memory in a fixed order).
// Every result is deterministic; half/bfloat16 accumulate in float.
#include "cuda_utils.cuh"
#include "depthwise_conv2d.h"

namespace torchext::cuda {
namespace {

template <typename T>
__global__ void depthwise_forward_kernel(const T* __restrict__ x, const T* __restrict__ w,
                                         const T* __restrict__ bias, Conv2dArgs s, T* __restrict__ out) {
  using A = acc_t<T>;
  const ConvGeometry g = s.geo;
  const int64_t mult = s.out_channels / g.channels;
  const int64_t total = s.batch * s.out_channels * g.out_h * g.out_w;
  for (int64_t idx = thread_index(); idx < total; idx += thread_count()) {
    const int64_t ow = idx % g.out_w;
    int64_t rest = idx / g.out_w;
    const int64_t oh = rest % g.out_h;
    rest /= g.out_h;
    const int64_t co = rest % s.out_channels, n = rest / s.out_channels;
    const T* plane = x + (n * g.channels + co / mult) * g.height * g.width;
    const T* filter = w + co * g.kernel_h * g.kernel_w;
    A acc = bias ? static_cast<A>(bias[co]) : A(0);
    for (int64_t ki = 0; ki < g.kernel_h; ++ki) {
      const int64_t h = oh * g.stride_h - g.pad_top + ki * g.dilation_h;
      if (h < 0 || h >= g.height) continue;
      for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
        const int64_t c = ow * g.stride_w - g.pad_left + kj * g.dilation_w;
        if (c < 0 || c >= g.width) continue;
        acc = fused_mul_add(static_cast<A>(filter[ki * g.kernel_w + kj]), static_cast<A>(plane[h * g.width + c]), acc);
      }
    }
    out[idx] = static_cast<T>(acc);
  }
}

// The kernel offsets (ki, kj) that read input (h, w) are those where h + pt - ki*dh is a multiple
// of the stride landing on an output row, likewise for the columns (as col2im).
template <typename T>
__global__ void depthwise_input_grad_kernel(const T* __restrict__ go, const T* __restrict__ w, Conv2dArgs s,
                                            T* __restrict__ grad_in) {
  using A = acc_t<T>;
  const ConvGeometry g = s.geo;
  const int64_t mult = s.out_channels / g.channels;
  const int64_t total = s.batch * g.channels * g.height * g.width;
  for (int64_t idx = thread_index(); idx < total; idx += thread_count()) {
    const int64_t iw = idx % g.width;
    int64_t rest = idx / g.width;
    const int64_t ih = rest % g.height;
    rest /= g.height;
    const int64_t c = rest % g.channels, n = rest / g.channels;
    A acc = A(0);
    for (int64_t m = 0; m < mult; ++m) {
      const int64_t co = c * mult + m;
      const T* plane = go + (n * s.out_channels + co) * g.out_h * g.out_w;
      const T* filter = w + co * g.kernel_h * g.kernel_w;
      for (int64_t ki = 0; ki < g.kernel_h; ++ki) {
        const int64_t hs = ih + g.pad_top - ki * g.dilation_h;
        if (hs < 0 || hs % g.stride_h != 0 || hs / g.stride_h >= g.out_h) continue;
        for (int64_t kj = 0; kj < g.kernel_w; ++kj) {
          const int64_t ws = iw + g.pad_left - kj * g.dilation_w;
          if (ws < 0 || ws % g.stride_w != 0 || ws / g.stride_w >= g.out_w) continue;
          acc = fused_mul_add(static_cast<A>(filter[ki * g.kernel_w + kj]),
                              static_cast<A>(plane[hs / g.stride_h * g.out_w + ws / g.stride_w]), acc);
        }
      }
    }
    grad_in[idx] = static_cast<T>(acc);
  }
}

// One block per weight (co, ki, kj): each thread sums a strided share of the (image, output
// pixel) products, then the block adds the shares up in a fixed tree.
template <typename T>
__global__ void depthwise_weight_grad_kernel(const T* __restrict__ go, const T* __restrict__ x, Conv2dArgs s,
                                             T* __restrict__ grad_w) {
  using A = acc_t<T>;
  __shared__ A shares[kBlock];
  const ConvGeometry g = s.geo;
  const int64_t mult = s.out_channels / g.channels, taps = g.kernel_h * g.kernel_w;
  const int64_t pixels = g.out_h * g.out_w, total = s.batch * pixels;
  for (int64_t weight = blockIdx.x; weight < s.out_channels * taps; weight += gridDim.x) {
    const int64_t co = weight / taps, ki = weight % taps / g.kernel_w, kj = weight % g.kernel_w;
    A acc = A(0);
    for (int64_t i = threadIdx.x; i < total; i += blockDim.x) {
      const int64_t n = i / pixels, oh = i % pixels / g.out_w, ow = i % g.out_w;
      const int64_t h = oh * g.stride_h - g.pad_top + ki * g.dilation_h;
      const int64_t c = ow * g.stride_w - g.pad_left + kj * g.dilation_w;
      if (h < 0 || h >= g.height || c < 0 || c >= g.width) continue;
      const T* plane = x + (n * g.channels + co / mult) * g.height * g.width;
      acc = fused_mul_add(static_cast<A>(go[(n * s.out_channels + co) * pixels + oh * g.out_w + ow]),
                          static_cast<A>(plane[h * g.width + c]), acc);
    }
    shares[threadIdx.x] = acc;
    __syncthreads();
    for (int half = kBlock / 2; half > 0; half /= 2) {
      if (threadIdx.x < half) shares[threadIdx.x] += shares[threadIdx.x + half];
      __syncthreads();
    }
    if (threadIdx.x == 0) grad_w[weight] = static_cast<T>(shares[0]);
    __syncthreads();  // shares[0] is read before the next weight overwrites it
  }
}

}  // namespace

template <typename T>
void depthwise_forward_launch(const Conv2dArgs& s, const T* x, const T* w, const T* bias, T* out) {
  const int64_t total = s.batch * s.out_channels * s.geo.out_area();
  if (total == 0) return;
  depthwise_forward_kernel<<<grid_for(total), kBlock, 0, current_stream()>>>(x, w, bias, s, out);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T>
void depthwise_input_grad_launch(const Conv2dArgs& s, const T* grad_out, const T* w, T* grad_in) {
  const int64_t total = s.batch * s.geo.channels * s.geo.in_area();
  if (total == 0) return;
  depthwise_input_grad_kernel<<<grid_for(total), kBlock, 0, current_stream()>>>(grad_out, w, s, grad_in);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T>
void depthwise_weight_grad_launch(const Conv2dArgs& s, const T* grad_out, const T* x, T* grad_w) {
  const int64_t weights = s.out_channels * s.geo.kernel_area();
  if (weights == 0) return;
  const unsigned blocks = static_cast<unsigned>(std::min<int64_t>(weights, kMaxBlocks));
  depthwise_weight_grad_kernel<<<blocks, kBlock, 0, current_stream()>>>(grad_out, x, s, grad_w);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

#define INSTANTIATE(T)                                                                                 \
  template void depthwise_forward_launch<T>(const Conv2dArgs&, const T*, const T*, const T*, T*);      \
  template void depthwise_input_grad_launch<T>(const Conv2dArgs&, const T*, const T*, T*);             \
  template void depthwise_weight_grad_launch<T>(const Conv2dArgs&, const T*, const T*, T*);
TORCHEXT_FOR_CUDA_FLOATING_TYPES(INSTANTIATE)
#undef INSTANTIATE

}  // namespace torchext::cuda
