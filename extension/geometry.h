// Plain geometry structs shared by the CPU kernels, the CUDA kernels (.cu, compiled by nvcc: so
// no ATen here) and the argument checks that fill them in (conv2d_args.h, pooling_args.h).
#pragma once
#include <array>
#include <cstdint>

namespace torchext {

// One 2-D convolution over NCHW images.
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

// The validated sizes of one convolution.
struct Conv2dArgs {
  int64_t batch, out_channels, groups;
  ConvGeometry geo;
  int64_t in_per_group() const { return geo.channels / groups; }
  int64_t out_per_group() const { return out_channels / groups; }
  int64_t gemm_k() const { return in_per_group() * geo.kernel_area(); }  // GEMM depth per group
  // 1x1, stride 1, no padding: the input image is already the columns matrix.
  bool is_pointwise() const {
    return geo.kernel_h == 1 && geo.kernel_w == 1 && geo.stride_h == 1 && geo.stride_w == 1 &&
           geo.out_h == geo.height && geo.out_w == geo.width && geo.pad_top == 0 &&
           geo.pad_left == 0;
  }
  std::array<int64_t, 4> out_shape() const { return {batch, out_channels, geo.out_h, geo.out_w}; }
};

// One 2-D max pooling window arrangement over H x W planes.
struct PoolGeometry {
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  int64_t H, W, OH, OW;
};

}  // namespace torchext
