// Packed, cache-blocked GEMM (Goto/BLIS scheme): for each KC x NC block of B (packed once, kept
// in L3) and each MC x KC block of A (packed, kept in L2), a register-tiled micro-kernel sweeps
// MR x NR tiles of C with the KC x NR panel of B resident in L1. When C is too narrow for packing
// A to pay off, the micro-kernel reads A in place. Threads each own a rectangle of C (split
// along M or N, whichever duplicates less packing), so they share nothing but the inputs.
// Matrix-vector products (M == 1 or N == 1) stream instead, and tiny products loop directly.
#include "gemm.h"

#include <ATen/Parallel.h>
#include <c10/util/Exception.h>

#include <algorithm>
#include <cstdlib>
#include <vector>

#include "gemm_microkernel.h"
#include "../gemm_dispatch.h"
#include "gemm_pack.h"
#include "workspace.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY {
namespace gemm_detail {
namespace {

inline int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }
inline int64_t round_up(int64_t a, int64_t b) { return ceil_div(a, b) * b; }

// Multiply-adds below which a product is not worth splitting across threads (about 10 us).
constexpr int64_t kMinFmasPerThread = int64_t(1) << 19;
// The same for one dot product, which is bound by memory rather than arithmetic.
constexpr int64_t kMinDotPerThread = int64_t(1) << 15;

// Widest C rectangle (in NR-column panels) for which A is read in place rather than packed.
constexpr int64_t kDirectAMaxColumns = 8;
// Products this small cost less computed directly than the packing and blocking set-up.
constexpr int64_t kTinyFmas = 512;

struct Packing {
  static constexpr const char* name = "GEMM packing";
};

// C = beta * C, for K == 0 or alpha == 0 (A and B are not read; beta == 0 does not read C).
template <typename T>
void scale_c(int64_t M, int64_t N, T beta, T* c, int64_t rs, int64_t cs) {
  if (beta == T(1)) return;
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      T& v = c[i * rs + j * cs];
      v = beta == T(0) ? T(0) : beta * v;
    }
}

template <typename T>
void gemm_tiny(int64_t M, int64_t N, int64_t K, T alpha, const T* a, int64_t a_rs, int64_t a_cs,
               const T* b, int64_t b_rs, int64_t b_cs, T beta, T* c, int64_t c_rs, int64_t c_cs) {
  for (int64_t i = 0; i < M; ++i)
    for (int64_t j = 0; j < N; ++j) {
      T s = 0;
      for (int64_t k = 0; k < K; ++k) s += a[i * a_rs + k * a_cs] * b[k * b_rs + j * b_cs];
      T& out = c[i * c_rs + j * c_cs];
      out = beta == T(0) ? alpha * s : beta * out + alpha * s;
    }
}

template <typename T>
T dot_contiguous(const T* __restrict__ a, const T* __restrict__ x, int64_t k) {
  using S = Simd<T>;
  using V = typename S::V;
  constexpr int W = S::W, U = 4;  // U independent accumulators hide the FMA latency
  V acc[U];
  for (int u = 0; u < U; ++u) acc[u] = S::zero();
  int64_t kk = 0;
  for (; kk + U * W <= k; kk += U * W)
    for (int u = 0; u < U; ++u)
      acc[u] = S::fmadd(S::loadu(a + kk + u * W), S::loadu(x + kk + u * W), acc[u]);
  alignas(64) T lanes[U * W];
  for (int u = 0; u < U; ++u) S::storeu(lanes + u * W, acc[u]);
  T s = 0;
  for (; kk < k; ++kk) s += a[kk] * x[kk];
  for (int l = 0; l < U * W; ++l) s += lanes[l];
  return s;
}

// y = beta * y + alpha * A x for an m x k matrix A(i, kk) = a[i * rs + kk * cs].
template <typename T>
void gemv(int64_t m, int64_t k, T alpha, const T* a, int64_t rs, int64_t cs, const T* x,
          int64_t xs, T beta, T* y, int64_t ys) {
  auto store = [&](int64_t i, T v) {
    T& out = y[i * ys];
    out = beta == T(0) ? alpha * v : beta * out + alpha * v;
  };
  const int64_t grain = std::max<int64_t>(1, kMinFmasPerThread / k);  // rows per task
  if (rs == 1 && cs != 1 && m > 1) {
    // Column-major A: y += A(:, kk) * x(kk), one contiguous column segment at a time.
    constexpr int64_t kRows = 256;
    const int64_t blocks = ceil_div(m, kRows);
    const int64_t blocks_per_task = std::max<int64_t>(1, grain / kRows);
    at::parallel_for(0, blocks, blocks_per_task, [&](int64_t lo, int64_t hi) {
      for (int64_t blk = lo; blk < hi; ++blk) {
        const int64_t i0 = blk * kRows, rows = std::min(kRows, m - i0);
        T acc[kRows] = {};
        for (int64_t kk = 0; kk < k; ++kk) {
          const T* __restrict__ col = a + i0 + kk * cs;
          const T xk = x[kk * xs];
          for (int64_t i = 0; i < rows; ++i) acc[i] += col[i] * xk;
        }
        for (int64_t i = 0; i < rows; ++i) store(i0 + i, acc[i]);
      }
    });
    return;
  }
  // Row-major (or general) A: one dot product per row, against x made contiguous.
  std::vector<T> x_copy;
  if (xs != 1) {
    x_copy.resize(k);
    for (int64_t kk = 0; kk < k; ++kk) x_copy[kk] = x[kk * xs];
    x = x_copy.data();
  }
  const int64_t chunks = std::min<int64_t>(at::get_num_threads(), k / kMinDotPerThread);
  if (m == 1 && cs == 1 && chunks > 1) {
    // One long dot product: fixed chunks summed in order, so the result does not depend on
    // which thread ran which chunk.
    std::vector<T> partial(chunks);
    at::parallel_for(0, chunks, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t c = lo; c < hi; ++c) {
        const int64_t k0 = c * k / chunks, k1 = (c + 1) * k / chunks;
        partial[c] = dot_contiguous(a + k0, x + k0, k1 - k0);
      }
    });
    T s = 0;
    for (T v : partial) s += v;
    store(0, s);
    return;
  }
  at::parallel_for(0, m, grain, [&](int64_t lo, int64_t hi) {
    for (int64_t i = lo; i < hi; ++i) {
      const T* row = a + i * rs;
      T s = 0;
      if (cs == 1) {
        s = dot_contiguous(row, x, k);
      } else {
        for (int64_t kk = 0; kk < k; ++kk) s += row[kk * cs] * x[kk];
      }
      store(i, s);
    }
  });
}

template <typename T>
struct Problem {
  int64_t M, N, K;
  T alpha;
  const T* a;
  int64_t a_rs, a_cs;
  const T* b;
  int64_t b_rs, b_cs;
  T beta;
  T* c;
  int64_t c_rs, c_cs;
  const T* b_panels = nullptr;              // B already packed (gemm_prepacked_b's layout)
  const GatheredB<T>* gathered = nullptr;   // or B read in place (gemm_gathered_b); b unread
};

// C[m0:m1, n0:n1] of the product on the calling thread, through the blocked loops.
template <typename T>
void gemm_rectangle(const Problem<T>& p, int64_t m0, int64_t m1, int64_t n0, int64_t n1) {
  using Cfg = GemmConfig<T>;
  constexpr int MR = Tile<T>::MR, NR = Tile<T>::NR;
  // Block sizes evened out so the last block is not a sliver (K = 257 runs as 129 + 128).
  const int64_t kc_max = ceil_div(p.K, ceil_div(p.K, Cfg::KC));
  const int64_t mc_max = round_up(ceil_div(m1 - m0, ceil_div(m1 - m0, Cfg::MC)), MR);
  const int64_t nc_max = round_up(ceil_div(n1 - n0, ceil_div(n1 - n0, Cfg::NC)), NR);
  const int64_t a_size = round_up(mc_max * kc_max, 64 / sizeof(T));  // keeps b_packed aligned
  T* a_packed = thread_workspace<Packing, T>(a_size + nc_max * kc_max);
  T* b_packed = a_packed + a_size;
  // C too narrow to amortise packing A, and A row- or column-major: the micro-kernel reads full
  // MR-row panels of A in place; only a trailing partial panel is packed (for its zero padding).
  const bool a_rows = p.a_cs == 1, a_cols = p.a_rs == 1 && !a_rows;
  const bool direct_a = (a_rows || a_cols) && n1 - n0 <= kDirectAMaxColumns * NR;
  // B is packed here unless it came prepacked or is read in place.
  const bool pack_b_here = !p.b_panels && !p.gathered;

  for (int64_t jc = n0; jc < n1; jc += nc_max) {
    const int64_t nc = std::min(nc_max, n1 - jc);
    for (int64_t pc = 0; pc < p.K; pc += kc_max) {
      const int64_t kc = std::min(kc_max, p.K - pc);
      const T beta = pc == 0 ? p.beta : T(1);  // later K blocks accumulate onto the first
      const T* b_block = p.b_panels ? p.b_panels + (jc / NR * p.K + pc) * NR : b_packed;
      if (pack_b_here) pack_b<T, NR>(kc, nc, p.b + pc * p.b_rs + jc * p.b_cs, p.b_rs, p.b_cs, b_packed);
      for (int64_t ic = m0; ic < m1; ic += mc_max) {
        const int64_t mc = std::min(mc_max, m1 - ic);
        const T* a_block = p.a + ic * p.a_rs + pc * p.a_cs;
        const int64_t in_place = direct_a ? mc / MR * MR : 0;
        if (in_place < mc)
          pack_a<T, MR>(mc - in_place, kc, a_block + in_place * p.a_rs, p.a_rs, p.a_cs, a_packed);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int nr = static_cast<int>(std::min<int64_t>(NR, nc - jr));
          T* c_block = p.c + ic * p.c_rs + (jc + jr) * p.c_cs;
          // The column panel against every MR-row panel of this A block.
          auto sweep = [&](const auto& b_panel) {
            for (int64_t ir = 0; ir < mc; ir += MR) {
              const int mr = static_cast<int>(std::min<int64_t>(MR, mc - ir));
              T* c_tile = c_block + ir * p.c_rs;
              if (ir < in_place && a_rows) {
                micro_kernel<T, true>(kc, a_block + ir * p.a_rs, p.a_rs, b_panel, p.alpha, beta,
                                      c_tile, p.c_rs, p.c_cs, mr, nr);
              } else if (ir < in_place) {
                micro_kernel<T, false>(kc, a_block + ir * p.a_rs, p.a_cs, b_panel, p.alpha, beta,
                                       c_tile, p.c_rs, p.c_cs, mr, nr);
              } else {
                micro_kernel<T, false>(kc, a_packed + (ir - in_place) * kc, MR, b_panel, p.alpha,
                                       beta, c_tile, p.c_rs, p.c_cs, mr, nr);
              }
            }
          };
          if (p.gathered) {
            GatheredPanel<T> panel{{}, p.gathered->row_offsets + pc};
            constexpr int W = Tile<T>::W;
            for (int v = 0; v < Tile<T>::NV; ++v)
              panel.vectors[v] = p.gathered->source + p.gathered->vector_offsets[(jc + jr) / W + v];
            sweep(panel);
          } else {
            // Panels of the whole depth K (prepacked) or of this block's kc (packed here).
            sweep(PackedPanel<T>{b_block + jr * (p.b_panels ? p.K : kc)});
          }
        }
      }
    }
  }
}

// Splits C into tm x tn rectangles, one per thread, minimising the slowest thread's estimated
// cost: its multiply-adds (edge tiles count in full) plus the packing it does (each thread
// packs its whole row band of A per NC block and its whole column band of B).
template <typename T>
void gemm_packed(const Problem<T>& p) {
  constexpr int MR = Tile<T>::MR, NR = Tile<T>::NR;
  constexpr int64_t kPackCost = 8;  // multiply-adds one packed element costs, roughly
  const int64_t mb = ceil_div(p.M, MR), nb = ceil_div(p.N, NR);
  int64_t threads = at::in_parallel_region() ? 1 : at::get_num_threads();
  const double fmas = double(p.M) * double(p.N) * double(p.K);
  threads = std::min(threads, static_cast<int64_t>(std::max(1.0, fmas / kMinFmasPerThread)));
  threads = std::max<int64_t>(1, std::min(threads, mb * nb));

  int64_t best_tm = 1, best_tn = 1;
  double best_cost = -1;
  for (int64_t t = threads; t >= 1 && best_cost < 0; --t) {
    for (int64_t tm = 1; tm <= t; ++tm) {
      if (t % tm != 0 || tm > mb || t / tm > nb) continue;
      const int64_t tn = t / tm;
      const double rows = double(ceil_div(mb, tm) * MR), cols = double(ceil_div(nb, tn) * NR);
      const double jc_blocks = double(ceil_div(int64_t(cols), GemmConfig<T>::NC));
      const double cost = rows * cols * p.K + kPackCost * p.K * (rows * jc_blocks + cols);
      if (best_cost < 0 || cost < best_cost) best_cost = cost, best_tm = tm, best_tn = tn;
    }
  }
  const int64_t tm = best_tm, tn = best_tn;
  auto run = [&](int64_t task) {
    const int64_t ti = task / tn, tj = task % tn;
    const int64_t m0 = std::min(p.M, ti * mb / tm * MR);
    const int64_t m1 = std::min(p.M, (ti + 1) * mb / tm * MR);
    const int64_t n0 = std::min(p.N, tj * nb / tn * NR);
    const int64_t n1 = std::min(p.N, (tj + 1) * nb / tn * NR);
    if (m0 < m1 && n0 < n1) gemm_rectangle(p, m0, m1, n0, n1);
  };
  if (tm * tn == 1) {
    run(0);
  } else {
    at::parallel_for(0, tm * tn, 1, [&](int64_t lo, int64_t hi) {
      for (int64_t task = lo; task < hi; ++task) run(task);
    });
  }
}

// Fraction of the computed MR x NR tiles that is real output.
template <typename T>
double tile_use(int64_t M, int64_t N) {
  constexpr int MR = Tile<T>::MR, NR = Tile<T>::NR;
  return double(M) / double(round_up(M, MR)) * double(N) / double(round_up(N, NR));
}

}  // namespace
}  // namespace gemm_detail

template <typename T>
void gemm(int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t a_rs, int64_t a_cs,
          const T* B, int64_t b_rs, int64_t b_cs, T beta, T* C, int64_t c_rs, int64_t c_cs) {
  using namespace gemm_detail;
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == T(0)) {
    scale_c(M, N, beta, C, c_rs, c_cs);
    return;
  }
  if (M <= kTinyFmas && N <= kTinyFmas && K <= kTinyFmas && M * N * K <= kTinyFmas) {
    gemm_tiny(M, N, K, alpha, A, a_rs, a_cs, B, b_rs, b_cs, beta, C, c_rs, c_cs);
    return;
  }
  if (N == 1) {
    gemv(M, K, alpha, A, a_rs, a_cs, B, b_rs, beta, C, c_rs);
    return;
  }
  if (M == 1) {  // C row = (B^T) (A row)
    gemv(N, K, alpha, B, b_cs, b_rs, A, a_cs, beta, C, c_cs);
    return;
  }
  // C^T = B^T A^T is the same product with M and N swapped. The micro-kernel stores unit-stride
  // rows of C fast and strided ones slowly, so take the orientation where C's rows are
  // unit-stride (for a C with neither, the one wasting less of the MR x NR tiles).
  const bool transpose =
      c_cs == 1 ? false : c_rs == 1 ? true : tile_use<T>(N, M) > tile_use<T>(M, N);
  if (transpose) {
    gemm_packed(Problem<T>{N, M, K, alpha, B, b_cs, b_rs, A, a_cs, a_rs, beta, C, c_cs, c_rs});
  } else {
    gemm_packed(Problem<T>{M, N, K, alpha, A, a_rs, a_cs, B, b_rs, b_cs, beta, C, c_rs, c_cs});
  }
}

namespace gemm_detail {
namespace {

// The product with a row-major C and B given as a source rather than a matrix (set_b fills in
// the Problem's b_panels or gathered).
template <typename T, typename SetB>
void gemm_with_b_source(int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t a_rs,
                        int64_t a_cs, T beta, T* C, int64_t c_rs, const SetB& set_b) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == T(0)) {
    scale_c(M, N, beta, C, c_rs, int64_t(1));
    return;
  }
  Problem<T> p{M, N, K, alpha, A, a_rs, a_cs, nullptr, 0, 0, beta, C, c_rs, 1};
  set_b(p);
  gemm_packed(p);
}

}  // namespace
}  // namespace gemm_detail

template <typename T>
void gemm_prepacked_b(int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t a_rs,
                      int64_t a_cs, const T* b_panels, T beta, T* C, int64_t c_rs) {
  gemm_detail::gemm_with_b_source(M, N, K, alpha, A, a_rs, a_cs, beta, C, c_rs,
                                  [&](gemm_detail::Problem<T>& p) { p.b_panels = b_panels; });
}

template <typename T>
void gemm_gathered_b(int64_t M, int64_t N, int64_t K, T alpha, const T* A, int64_t a_rs,
                     int64_t a_cs, const GatheredB<T>& b, T beta, T* C, int64_t c_rs) {
  TORCH_CHECK(N % kGemmPanelWidth<T> == 0, "torchext: gemm_gathered_b needs whole panels, got N = ", N);
  gemm_detail::gemm_with_b_source(M, N, K, alpha, A, a_rs, a_cs, beta, C, c_rs,
                                  [&](gemm_detail::Problem<T>& p) { p.gathered = &b; });
}

template void gemm_gathered_b<float>(int64_t, int64_t, int64_t, float, const float*, int64_t,
                                     int64_t, const GatheredB<float>&, float, float*, int64_t);
template void gemm_gathered_b<double>(int64_t, int64_t, int64_t, double, const double*, int64_t,
                                      int64_t, const GatheredB<double>&, double, double*, int64_t);
template void gemm_prepacked_b<float>(int64_t, int64_t, int64_t, float, const float*, int64_t,
                                      int64_t, const float*, float, float*, int64_t);
template void gemm_prepacked_b<double>(int64_t, int64_t, int64_t, double, const double*, int64_t,
                                       int64_t, const double*, double, double*, int64_t);
template void gemm<float>(int64_t, int64_t, int64_t, float, const float*, int64_t, int64_t,
                          const float*, int64_t, int64_t, float, float*, int64_t, int64_t);
template void gemm<double>(int64_t, int64_t, int64_t, double, const double*, int64_t, int64_t,
                           const double*, int64_t, int64_t, double, double*, int64_t, int64_t);

}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY

TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::GemmKernel, gemm);
