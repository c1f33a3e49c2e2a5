// The pooling kernels (kernels/max_pool2d.cpp, kernels/avg_pool2d.cpp,
// kernels/adaptive_avg_pool2d.cpp), dispatched to
// the capability in use (dispatch.h). Contiguous planes, one after another.
#pragma once
#include <cstdint>

#include "../geometry.h"
#include "dispatch.h"

namespace torchext::cpu {

// out and idx (flat index within the input plane, -1 for a window on padding only) per plane.
template <typename T>
struct MaxPool2dKernel {
  using Fn = void(const PoolGeometry& g, int64_t planes, const T* in, T* out, int64_t* idx);
};

// grad_input[idx] += grad_output per plane of hw inputs and ohw outputs; false when an index is
// neither -1 nor inside the plane.
template <typename T>
struct MaxPool2dBackwardKernel {
  using Fn = bool(int64_t planes, int64_t hw, int64_t ohw, const T* grad, const int64_t* idx,
                  T* grad_input);
};

// out = grad_grad_input[idx] per plane (0 for index -1): the gather that differentiates the
// backward's scatter; false when an index is neither -1 nor inside the plane.
template <typename T>
struct MaxPool2dDoubleBackwardKernel {
  using Fn = bool(int64_t planes, int64_t hw, int64_t ohw, const T* grad_grad_input, const int64_t* idx,
                  T* out);
};

// The average of each window per plane: its sum over the input divided by divisor (when not 0),
// else by the window's area clamped to the padded input (count_include_pad) or to the input.
template <typename T>
struct AvgPool2dKernel {
  using Fn = void(const PoolGeometry& g, bool count_include_pad, int64_t divisor, int64_t planes,
                  const T* in, T* out);
};

// grad_input = the transpose of that average: each window's grad / divisor added over it.
template <typename T>
struct AvgPool2dBackwardKernel {
  using Fn = void(const PoolGeometry& g, bool count_include_pad, int64_t divisor, int64_t planes,
                  const T* grad, T* grad_input);
};

template <typename T>
struct AdaptiveAvgPool2dKernel {
  using Fn = void(int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow, const T* in, T* out);
};

template <typename T>
struct AdaptiveAvgPool2dBackwardKernel {
  using Fn = void(int64_t planes, int64_t h, int64_t w, int64_t oh, int64_t ow, const T* grad,
                  T* grad_input);
};

}  // namespace torchext::cpu

TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::MaxPool2dKernel);
TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::MaxPool2dBackwardKernel);
TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::MaxPool2dDoubleBackwardKernel);
TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::AvgPool2dKernel);
TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::AvgPool2dBackwardKernel);
TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::AdaptiveAvgPool2dKernel);
TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::AdaptiveAvgPool2dBackwardKernel);
