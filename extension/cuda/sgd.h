// Launcher of the fused multi-tensor SGD step (sgd.cu).
#pragma once
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cstdint>

namespace torchext::cuda {

struct SgdConfig {
  double lr, momentum, dampening, weight_decay;
  bool nesterov, maximize, first_step;
};

// One torch.optim.SGD step (foreach=False semantics, bit for bit) over `count` parameters, each
// a dense array of sizes[i] elements walked in the same order as its grad and momentum buffer.
// bufs is null when momentum is 0. A few launches cover all parameters.
template <typename T>
void sgd_step_launch(T* const* params, const T* const* grads, T* const* bufs,
                     const int64_t* sizes, int64_t count, const SgdConfig& config);

}  // namespace torchext::cuda
