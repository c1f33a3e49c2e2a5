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

#include "../geometry.h"

namespace torchext::cuda {

// columns (channels*kh*kw rows of images*P) from `images` contiguous NCHW images at x.
template <typename T>
void im2col_launch(const T* x, int64_t images, const ConvGeometry& g, T* columns);

// The adjoint of im2col: out[n][c][h][w] = sum of the columns entries im2col would have copied
// from x[n][c][h][w] (summed in the accumulate type A; columns may be float for half/bfloat16).
template <typename T, typename A>
void col2im_launch(const A* columns, int64_t images, const ConvGeometry& g, T* out);

}  // namespace torchext::cuda
