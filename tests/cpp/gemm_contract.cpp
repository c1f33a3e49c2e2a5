// Checks the GEMM kernel of one CPU capability (built with -DTORCHEXT_CPU_CAPABILITY and its
// flags) against a long-double reference over the parts of its contract the
// matmul op does not reach: alpha and beta (beta == 0 must not read C, which holds NaN), strided
// and column-major C (elements outside C untouched), zero-stride and padded operands, K == 0,
// and blocking edges. Built and run by tests/test_matmul.py; prints failures, exits non-zero.
#include "../../extension/cpu/kernels/gemm.cpp"

#include <cmath>
#include <cstdio>
#include <random>
#include <vector>

namespace {

// Layouts of an r x c matrix: 0 row-major, 1 column-major, 2 padded rows with stride-2
// columns, 3 row-major with stride-0 rows (every row the same; not used for C).
void layout(int lay, int64_t r, int64_t c, int64_t& rs, int64_t& cs, int64_t& size) {
  switch (lay) {
    case 0: rs = c, cs = 1, size = r * c; break;
    case 1: rs = 1, cs = r, size = r * c; break;
    case 2: rs = 2 * c + 3, cs = 2, size = r * rs; break;
    default: rs = 0, cs = 1, size = c; break;
  }
}

template <typename T>
int check(int64_t M, int64_t N, int64_t K, T alpha, T beta, int la, int lb, int lc,
          std::mt19937& rng) {
  std::normal_distribution<double> normal;
  int64_t a_rs, a_cs, a_n, b_rs, b_cs, b_n, c_rs, c_cs, c_n;
  layout(la, M, K, a_rs, a_cs, a_n);
  layout(lb, K, N, b_rs, b_cs, b_n);
  layout(lc, M, N, c_rs, c_cs, c_n);
  std::vector<T> A(a_n + 1), B(b_n + 1), C(c_n + 1);
  for (auto& v : A) v = T(normal(rng));
  for (auto& v : B) v = T(normal(rng));
  for (auto& v : C) v = beta == T(0) ? T(NAN) : T(normal(rng));
  const std::vector<T> C0 = C;
  torchext::cpu::TORCHEXT_CPU_CAPABILITY::gemm<T>(M, N, K, alpha, A.data(), a_rs, a_cs, B.data(), b_rs, b_cs, beta,
                         C.data(), c_rs, c_cs);
  const double tol = (sizeof(T) == 4 ? 4e-6 : 1e-14) * (std::sqrt(double(K)) + 2);
  std::vector<char> in_c(C.size(), 0);
  int bad = 0;
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      long double s = 0, mag = 0;
      for (int64_t k = 0; k < K; ++k) {
        const long double p = (long double)A[i * a_rs + k * a_cs] * B[k * b_rs + j * b_cs];
        s += p;
        mag += std::fabs(p);
      }
      const int64_t at = i * c_rs + j * c_cs;
      in_c[at] = 1;
      const long double old_c = beta == T(0) ? 0 : (long double)beta * C0[at];
      const long double want = alpha * s + old_c;
      const double err = std::fabs(double(C[at] - want));
      const double scale = double(std::fabs(alpha) * mag + std::fabs(old_c) + 1);
      if (!(err <= tol * scale)) ++bad;
    }
  for (size_t x = 0; x < C.size(); ++x)
    if (!in_c[x] && !(std::isnan(C0[x]) ? std::isnan(C[x]) : C[x] == C0[x])) ++bad;
  static int reported = 0;
  if (bad && ++reported <= 20)
    std::printf("FAIL %s M=%ld N=%ld K=%ld alpha=%g beta=%g layouts A%d B%d C%d: %d bad\n",
                sizeof(T) == 4 ? "float" : "double", long(M), long(N), long(K), double(alpha),
                double(beta), la, lb, lc, bad);
  return bad ? 1 : 0;
}

template <typename T>
int sweep(std::mt19937& rng, int& cases) {
  const T alphas[] = {T(1), T(-0.5), T(0)};
  const T betas[] = {T(0), T(1), T(0.75)};
  int fails = 0, n = 0;
  for (int64_t M : {1, 2, 5, 7, 13, 33})
    for (int64_t N : {1, 3, 16, 17, 40})
      for (int64_t K : {0, 1, 9, 300}) {
        const int64_t layouts = M * N * K > 20000 ? 5 : 48;
        for (int64_t l = 0; l < layouts; ++l, ++n) {
          const int step = int((l * 7 + M + N + K) % 48);
          fails += check<T>(M, N, K, alphas[step % 3 == 2 && K % 2 ? 2 : step % 2],
                            betas[step % 3], step % 4, step / 4 % 4, step / 16 % 3, rng);
        }
      }
  // Blocking edges: several K blocks (KC <= 256), row blocks past MC, column blocks past NC.
  fails += check<T>(150, 70, 600, T(1), T(0.5), 0, 0, 0, rng);
  fails += check<T>(301, 37, 257, T(2), T(0), 1, 1, 1, rng);
  fails += check<T>(3, 4200, 20, T(1), T(1), 0, 1, 0, rng);
  fails += check<T>(260, 300, 40, T(-1), T(0), 2, 2, 2, rng);
  cases += n + 4;
  return fails;
}

}  // namespace

int main() {
  std::mt19937 rng(7);
  int cases = 0;
  const int fails = sweep<float>(rng, cases) + sweep<double>(rng, cases);
  std::printf("%d of %d gemm cases failed (%d threads)\n", fails, cases, at::get_num_threads());
  return fails ? 1 : 0;
}
