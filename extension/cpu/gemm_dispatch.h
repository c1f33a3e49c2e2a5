// The GEMM for generic code (matmul, linear): kernels/gemm.h's contract, dispatched to the
// capability in use. Kernel files call their own capability's gemm directly.
#pragma once
#include <cstdint>
#include <type_traits>

#include "dispatch.h"

namespace torchext::cpu {

template <typename T>
struct GemmKernel {
  using Fn = void(int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t a_rs, int64_t a_cs,
                  const T* B, int64_t b_rs, int64_t b_cs, T beta, T* C, int64_t c_rs, int64_t c_cs);
};

}  // namespace torchext::cpu

TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::GemmKernel);

namespace torchext::cpu {

// C = beta * C + alpha * A @ B with element strides (kernels/gemm.h has the full contract).
template <typename T>
void gemm(int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t a_rs, int64_t a_cs,
          const T* B, int64_t b_rs, int64_t b_cs, T beta, T* C, int64_t c_rs, int64_t c_cs) {
  cpu_kernel<GemmKernel, T>()(M, N, K, alpha, A, a_rs, a_cs, B, b_rs, b_cs, beta, C, c_rs, c_cs);
}

}  // namespace torchext::cpu
