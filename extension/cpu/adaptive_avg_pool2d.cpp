// Adaptive 2-D average pooling and its backward (CPU), for (N, C, H, W) or unbatched (C, H, W).
// Output cell i along a dim of input length L and output length O averages the input range
// [floor(i*L/O), ceil((i+1)*L/O)); ranges of neighbouring cells overlap when O does not divide L.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include "../common.h"
#include "../pooling_args.h"
#include "loops.h"

namespace torchext::cpu {
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

at::Tensor adaptive_avg_pool2d_cpu(const at::Tensor& self, c10::IntArrayRef output_size) {
  const char* op = "torchext.adaptive_avg_pool2d";
  const auto shape = adaptive_avg_pool2d_args(op, self, output_size);
  const int64_t H = self.size(-2), W = self.size(-1), OH = output_size[0], OW = output_size[1];
  auto x = self.contiguous();
  auto out = at::empty(shape, x.options());
  if (out.numel() == 0) return out;
  const int64_t planes = x.numel() / (H * W);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "torchext_adaptive_avg_pool2d", [&] {
    const scalar_t* in = x.const_data_ptr<scalar_t>();
    scalar_t* o = out.mutable_data_ptr<scalar_t>();
    for_planes(planes, H * W, [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) {
        const scalar_t* __restrict__ pin = in + p * H * W;
        scalar_t* __restrict__ pout = o + p * OH * OW;
        if (OH == 1 && OW == 1) {  // global average: one reduction over the plane
          pout[0] = scalar_t(sum_as_double(pin, H * W) / double(H * W));
          continue;
        }
        for (int64_t oh = 0; oh < OH; ++oh) {
          const int64_t h0 = range_start(oh, H, OH), h1 = range_end(oh, H, OH);
          for (int64_t ow = 0; ow < OW; ++ow) {
            const int64_t w0 = range_start(ow, W, OW), w1 = range_end(ow, W, OW);
            double s = 0;
            for (int64_t ih = h0; ih < h1; ++ih)
              for (int64_t iw = w0; iw < w1; ++iw) s += double(pin[ih * W + iw]);
            pout[oh * OW + ow] = scalar_t(s / double((h1 - h0) * (w1 - w0)));
          }
        }
      }
    });
  });
  return out;
}

// Each output cell's gradient, divided by its range's area, is added over that range; one thread
// owns each plane, so overlapping ranges accumulate safely.
at::Tensor adaptive_avg_pool2d_backward_cpu(const at::Tensor& grad_output, const at::Tensor& self) {
  const char* op = "torchext.adaptive_avg_pool2d_backward";
  check_adaptive_avg_pool2d_backward_args(op, grad_output, self);
  const int64_t H = self.size(-2), W = self.size(-1);
  const int64_t OH = grad_output.size(-2), OW = grad_output.size(-1);
  auto go = grad_output.contiguous();
  auto grad_input = at::empty(self.sizes(), go.options());
  if (go.numel() == 0) return grad_input.zero_();
  const int64_t planes = grad_input.numel() / (H * W);
  AT_DISPATCH_FLOATING_TYPES(go.scalar_type(), "torchext_adaptive_avg_pool2d_backward", [&] {
    const scalar_t* g = go.const_data_ptr<scalar_t>();
    scalar_t* gi = grad_input.mutable_data_ptr<scalar_t>();
    for_planes(planes, H * W, [&](int64_t b, int64_t e) {
      for (int64_t p = b; p < e; ++p) {
        const scalar_t* __restrict__ pg = g + p * OH * OW;
        scalar_t* __restrict__ pgi = gi + p * H * W;
        if (OH == 1 && OW == 1) {
          const scalar_t v = scalar_t(double(pg[0]) / double(H * W));
          for (int64_t i = 0; i < H * W; ++i) pgi[i] = v;
          continue;
        }
        for (int64_t i = 0; i < H * W; ++i) pgi[i] = scalar_t(0);
        for (int64_t oh = 0; oh < OH; ++oh) {
          const int64_t h0 = range_start(oh, H, OH), h1 = range_end(oh, H, OH);
          for (int64_t ow = 0; ow < OW; ++ow) {
            const int64_t w0 = range_start(ow, W, OW), w1 = range_end(ow, W, OW);
            const scalar_t v = scalar_t(double(pg[oh * OW + ow]) / double((h1 - h0) * (w1 - w0)));
            for (int64_t ih = h0; ih < h1; ++ih)
              for (int64_t iw = w0; iw < w1; ++iw) pgi[ih * W + iw] += v;
          }
        }
      }
    });
  });
  return grad_input;
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CPU, m) {
  m.impl("adaptive_avg_pool2d", &adaptive_avg_pool2d_cpu);
  m.impl("adaptive_avg_pool2d_backward", &adaptive_avg_pool2d_backward_cpu);
}

}  // namespace torchext::cpu
