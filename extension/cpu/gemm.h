// The one GEMM every CPU matrix product goes through (conv2d, linear, matmul).
#pragma once
#include <cstdint>

namespace torchext::cpu {

// C = beta * C + alpha * A @ B for an M x K matrix A and a K x N matrix B, each addressed by
// element strides: A(i, k) = A[i * a_rs + k * a_cs], B(k, j) = B[k * b_rs + j * b_cs],
// C(i, j) = C[i * c_rs + j * c_cs]. Any strides work (transposes are just swapped strides).
// beta == 0 means C is not read (it may hold garbage or NaN). Parallel over the calling
// thread pool with at::parallel_for; inside a parallel region it runs on the calling thread.
template <typename T>
void gemm(int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t a_rs, int64_t a_cs,
          const T* B, int64_t b_rs, int64_t b_cs, T beta, T* C, int64_t c_rs, int64_t c_cs);

}  // namespace torchext::cpu
