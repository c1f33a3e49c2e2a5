// The one GEMM every CPU matrix product goes through (conv2d, linear, matmul).
#pragma once
#include <cstdint>

#include "gemm_microkernel.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY {

// C = beta * C + alpha * A @ B for an M x K matrix A and a K x N matrix B, each addressed by
// element strides: A(i, k) = A[i * a_rs + k * a_cs], B(k, j) = B[k * b_rs + j * b_cs],
// C(i, j) = C[i * c_rs + j * c_cs]. Any strides work (transposes are just swapped strides).
// beta == 0 means C is not read (it may hold garbage or NaN). Parallel over the calling
// thread pool with at::parallel_for; inside a parallel region it runs on the calling thread.
template <typename T>
void gemm(int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t a_rs, int64_t a_cs,
          const T* B, int64_t b_rs, int64_t b_cs, T beta, T* C, int64_t c_rs, int64_t c_cs);

// Width W of the column panels gemm_prepacked_b reads (the micro-kernel's register tile width).
template <typename T>
constexpr int kGemmPanelWidth = gemm_detail::Tile<T>::NR;

// The same product with B handed over already in the micro-kernel's layout, so that a producer
// (conv2d's im2col) can write it there directly instead of the GEMM copying it: ceil(N / W)
// panels, panel p holding B(k, p * W + j) at b_panels[(p * K + k) * W + j], with zeros past N.
// C must be row-major (unit column stride).
template <typename T>
void gemm_prepacked_b(int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t a_rs,
                      int64_t a_cs, const T* b_panels, T beta, T* C, int64_t c_rs);

// The micro-kernel's vector width (values per SIMD register).
template <typename T>
constexpr int kVectorWidth = gemm_detail::Tile<T>::W;

// B read in place rather than from a matrix: B(k, j) = source[vector_offsets[j / W] +
// row_offsets[k] + j % W] for the micro-kernel's vector width W = kVectorWidth<T>, so every W
// consecutive columns are W contiguous values (conv2d's implicit GEMM over a padded image: a
// vector is a stretch of an output row, a row offset a channel and kernel tap).
template <typename T>
struct GatheredB {
  const T* source;
  const int64_t* vector_offsets;  // N / W entries
  const int64_t* row_offsets;     // K entries
};

// The product with such a B; N must be a whole number of panels (kGemmPanelWidth), since the
// micro-kernel reads full panels. C must be row-major (unit column stride).
template <typename T>
void gemm_gathered_b(int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t a_rs,
                     int64_t a_cs, const GatheredB<T>& b, T beta, T* C, int64_t c_rs);

}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY
