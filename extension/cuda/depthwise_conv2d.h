// Direct depthwise convolution kernels (depthwise_conv2d.cu): groups == channels, each input
// channel convolved with its own `multiplier` = out_channels / channels filters, contiguous NCHW.
#pragma once
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cstdint>

#include "../geometry.h"

namespace torchext::cuda {

// out = conv2d(x, w, groups = channels) + bias (bias may be null).
template <typename T>
void depthwise_forward_launch(const Conv2dArgs& s, const T* x, const T* w, const T* bias, T* out);

// grad_in[n][c] = the sum over c's filters of grad_out correlated back through them.
template <typename T>
void depthwise_input_grad_launch(const Conv2dArgs& s, const T* grad_out, const T* w, T* grad_in);

// grad_w[co][ki][kj] = the sum over images and output pixels of grad_out * the input it read.
template <typename T>
void depthwise_weight_grad_launch(const Conv2dArgs& s, const T* grad_out, const T* x, T* grad_w);

}  // namespace torchext::cuda
