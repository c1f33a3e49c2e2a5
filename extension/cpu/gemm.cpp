// Reference GEMM (correct, not yet fast): to be replaced by the packed, blocked kernel.
#include "gemm.h"

#include <ATen/Parallel.h>

namespace torchext::cpu {

template <typename T>
void gemm(int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t a_rs, int64_t a_cs,
          const T* B, int64_t b_rs, int64_t b_cs, T beta, T* C, int64_t c_rs, int64_t c_cs) {
  at::parallel_for(0, M, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      for (int64_t j = 0; j < N; ++j) {
        T acc = 0;
        for (int64_t k = 0; k < K; ++k) acc += A[i * a_rs + k * a_cs] * B[k * b_rs + j * b_cs];
        T& c = C[i * c_rs + j * c_cs];
        c = beta == T(0) ? alpha * acc : beta * c + alpha * acc;
      }
    }
  });
}

template void gemm<float>(int64_t, int64_t, int64_t, float, const float*, int64_t, int64_t,
                          const float*, int64_t, int64_t, float, float*, int64_t, int64_t);
template void gemm<double>(int64_t, int64_t, int64_t, double, const double*, int64_t, int64_t,
                           const double*, int64_t, int64_t, double, double*, int64_t, int64_t);

}  // namespace torchext::cpu
