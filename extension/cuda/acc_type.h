// The accumulate type of the CUDA kernels, shared by host and device code: float for
// half/bfloat16/float, double for double.
#pragma once
#include <ATen/AccumulateType.h>

namespace torchext::cuda {

template <typename T>
using acc_t = at::acc_type<T, /*is_cuda=*/true>;

}  // namespace torchext::cuda
