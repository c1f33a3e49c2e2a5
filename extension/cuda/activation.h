// Launchers of the relu-family CUDA kernels (activation.cu). Operands are contiguous arrays of n
// elements; kernels run on the current stream.
#pragma once
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cstdint>

namespace torchext::cuda {

// out = relu(in); out may be in (the in-place relu_).
template <typename T>
void relu_launch(const T* in, T* out, int64_t n);

// out = result <= 0 ? 0 : grad (as native threshold_backward, so a NaN result passes grad).
template <typename T>
void relu_backward_launch(const T* grad, const T* result, T* out, int64_t n);

// out = relu(a + b), the residual connection of a ResNet block.
template <typename T>
void add_relu_launch(const T* a, const T* b, T* out, int64_t n);

}  // namespace torchext::cuda
