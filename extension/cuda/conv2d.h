// im2col / col2im CUDA kernels (conv2d.cu) for the 2-D convolution, over a chunk of images.
//
// The columns matrix has one row per (channel, ki, kj) and one column per (image, oh, ow):
//   columns[(c*kh + ki)*kw + kj][n*P + oh*Wo + ow] = x[n][c][oh*sh - pt + ki*dh][ow*sw - pl + kj*dw]
// (zero where that index falls in the padding), P = Ho*Wo. Images sit side by side so the
// convolution's GEMMs stay wide even when each image's output is tiny.
#pragma once
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cstdint>

namespace torchext::cuda {

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

// columns (channels*kh*kw rows of images*P) from `images` contiguous NCHW images at x.
template <typename T>
void im2col_launch(const T* x, int64_t images, const ConvGeometry& g, T* columns);

// The adjoint of im2col: out[n][c][h][w] = sum of the columns entries im2col would have copied
// from x[n][c][h][w] (summed in the accumulate type A; columns may be float for half/bfloat16).
template <typename T, typename A>
void col2im_launch(const A* columns, int64_t images, const ConvGeometry& g, T* out);

}  // namespace torchext::cuda
