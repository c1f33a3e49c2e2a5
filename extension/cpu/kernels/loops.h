// Parallel loop helpers for CPU kernels. Inner loops are written as plain indexed loops over
// restrict pointers so the compiler vectorizes them for the capability being compiled.
#pragma once
#include <ATen/Parallel.h>

#include "capability.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY {

// Elements per task below which splitting across threads costs more than it saves.
constexpr int64_t kElementwiseGrain = 32768;

// Runs body(begin, end) over [0, n) in parallel chunks.
template <typename F>
inline void parallel_chunks(int64_t n, const F& body, int64_t grain = kElementwiseGrain) {
  if (n <= 0) return;
  at::parallel_for(0, n, grain, body);
}

}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY
