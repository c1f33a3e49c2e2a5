// linear's bias loops: adding the bias to every output row, and its gradient's column sums.
#include <ATen/Parallel.h>

#include <algorithm>
#include <cstdint>

#include "../linear_dispatch.h"
#include "loops.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY {
namespace {

template <typename T>
void add_bias_rows(T* o, const T* __restrict__ b, int64_t M, int64_t N) {
  parallel_chunks(M, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      T* __restrict__ row = o + i * N;
      for (int64_t j = 0; j < N; ++j) row[j] += b[j];
    }
  }, std::max<int64_t>(1, kElementwiseGrain / N));
}

// A block of columns per task; the inner loop runs along a row, so it vectorizes.
template <typename T>
void bias_grad_columns(const T* __restrict__ gp, int64_t M, int64_t N, T* __restrict__ gb) {
  at::parallel_for(0, N, std::max<int64_t>(64, kElementwiseGrain / std::max<int64_t>(M, 1)),
                   [&](int64_t lo, int64_t hi) {
    for (int64_t j = lo; j < hi; ++j) gb[j] = T(0);
    for (int64_t i = 0; i < M; ++i) {
      const T* __restrict__ row = gp + i * N;
      for (int64_t j = lo; j < hi; ++j) gb[j] += row[j];
    }
  });
}

}  // namespace
}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY

TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::AddBiasRowsKernel, add_bias_rows);
TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::BiasGradColumnsKernel, bias_grad_columns);
