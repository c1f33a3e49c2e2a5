// Plain geometry structs shared by the CPU kernels, the CUDA kernels (.cu, compiled by nvcc: so
// no ATen here) and the argument checks that fill them in (conv2d_args.h, pooling_args.h).
#pragma once
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

// One 2-D max pooling window arrangement over H x W planes.
struct PoolGeometry {
  int64_t kh, kw, sh, sw, ph, pw, dh, dw;
  int64_t H, W, OH, OW;
};

}  // namespace torchext
