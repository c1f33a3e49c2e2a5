// The CUDA sum as a host function for the other CUDA ops (bias gradients, loss reductions).
#pragma once
#include <ATen/ATen.h>

namespace torchext::cuda {

// scale * (sum of x over `dims`), in x's dtype (accumulated in float for half/bfloat16, double
// for double). dims must be valid and distinct; empty dims reduces every dimension.
at::Tensor reduce_sum(const at::Tensor& x, at::IntArrayRef dims, bool keepdim, double scale = 1.0);

}  // namespace torchext::cuda
