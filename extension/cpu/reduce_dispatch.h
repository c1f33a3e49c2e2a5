// The sum kernels (kernels/reduce.cpp), dispatched to the capability in use (dispatch.h).
#pragma once
#include <cstdint>

#include "dispatch.h"

namespace torchext::cpu {

// One dim of a reduction: its size, element strides in the input and the output (0 for reduced
// dims), and whether it is reduced.
struct ReduceDim {
  int64_t size, in_stride, out_stride;
  bool reduced;
};

// y = x summed over the reduced dims of `dims` (sizes > 1, memory order, largest input stride
// first, at least one reduced), with cascade summation.
template <typename T>
struct SumKernel {
  using Fn = void(const T* x, T* y, const ReduceDim* dims, int64_t ndims);
};

// The sum of n contiguous values.
template <typename T>
struct SumContiguousKernel {
  using Fn = T(const T* x, int64_t n);
};

}  // namespace torchext::cpu

TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::SumKernel);
TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::SumContiguousKernel);
