// The one GEMM every CUDA matrix product goes through (matmul, linear, conv2d): our own tiled
// shared-memory kernel (gemm.cu). Host code fills a GemmProblem and calls gemm_launch.
#pragma once
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cstdint>

namespace torchext::cuda {

// Where element (i, j) of matrix number (b0, b1) of a batch lives, in elements from the base
// pointer: b0 * batch[0] + b1 * batch[1] + i * rs + j * cs. Any strides work: a transpose is a
// swap of rs and cs, a repeated operand has batch stride 0.
struct MatrixLayout {
  int64_t rs = 0, cs = 0;
  int64_t batch[2] = {0, 0};
};

// For every (b0, b1) < batches: C = alpha * A @ B + beta * C + bias, with A M x K, B K x N,
// C M x N. beta == 0 means C is not read (it may hold garbage or NaN). bias is optional (null)
// and addressed like a matrix (rs or cs 0 for a per-row or per-column bias). Products accumulate
// in float for half/bfloat16 (T) and in T otherwise; C may be float (CT) to accumulate a
// half/bfloat16 result across several calls without rounding in between.
template <typename T, typename CT = T>
struct GemmProblem {
  int64_t M = 0, N = 0, K = 0;
  int64_t batches[2] = {1, 1};
  const T* a = nullptr;
  MatrixLayout a_layout;
  const T* b = nullptr;
  MatrixLayout b_layout;
  CT* c = nullptr;
  MatrixLayout c_layout;
  const T* bias = nullptr;
  MatrixLayout bias_layout;
  double alpha = 1.0, beta = 0.0;
};

// Runs the problem on the current stream. Instantiated for T = CT in {float, double, Half,
// BFloat16} and for T in {Half, BFloat16} with CT = float.
template <typename T, typename CT>
void gemm_launch(const GemmProblem<T, CT>& p);

}  // namespace torchext::cuda
