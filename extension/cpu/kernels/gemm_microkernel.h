// The GEMM register tile: an MR x NR block of C accumulated in MR*NV vector registers from packed
// panels of A (MR values per k) and B (NR = NV*W values per k), with one broadcast of A and NV
// vector FMAs per row per k. Blocking sizes per ISA and dtype live in GemmConfig.
#pragma once
#include <cstdint>

#include "gemm_simd.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY::gemm_detail {

// MR x (NV * W) register tile; KC x NR panel of B sized for L1, MC x KC block of A for L2,
// KC x NC block of B for L3 (Goto's blocking).
template <typename T>
struct GemmConfig;

#if defined(__AVX512F__)
template <> struct GemmConfig<float>  { static constexpr int MR = 12, NV = 2, KC = 128, MC = 240, NC = 3072; };
template <> struct GemmConfig<double> { static constexpr int MR = 12, NV = 2, KC = 128, MC = 240, NC = 3072; };
#elif defined(__AVX2__) && defined(__FMA__)
template <> struct GemmConfig<float>  { static constexpr int MR = 6, NV = 2, KC = 256, MC = 144, NC = 4080; };
template <> struct GemmConfig<double> { static constexpr int MR = 6, NV = 2, KC = 256, MC = 72, NC = 2040; };
#else
template <typename T>
struct GemmConfig { static constexpr int MR = 4, NV = 4, KC = 256, MC = 128, NC = 2048; };
#endif

template <typename T>
struct Tile {
  static constexpr int MR = GemmConfig<T>::MR;
  static constexpr int NV = GemmConfig<T>::NV;
  static constexpr int W = Simd<T>::W;
  static constexpr int NR = NV * W;
};

// Where the micro-kernel reads a k x NR panel of B: vector j of row k (W values).
// A packed panel: NR values per k, contiguous and aligned (zero-padded past the last column).
template <typename T>
struct PackedPanel {
  const T* __restrict__ b;
  typename Simd<T>::V load(int64_t k, int j) const { return Simd<T>::load(b + k * Tile<T>::NR + j * Simd<T>::W); }
};

// A panel read in place from an image: vector j of row k is W contiguous values at
// vectors[j] + row_offsets[k] (conv2d's implicit GEMM; every value must exist, no padding).
template <typename T>
struct GatheredPanel {
  const T* vectors[Tile<T>::NV];
  const int64_t* __restrict__ row_offsets;
  typename Simd<T>::V load(int64_t k, int j) const { return Simd<T>::loadu(vectors[j] + row_offsets[k]); }
};

// C[0:mr, 0:nr] = beta * C + alpha * A B over kc steps, B a panel (PackedPanel or
// GatheredPanel) and A an MR-row panel addressed A(i, k) = a[k * a_step + i] (a packed panel
// with a_step = MR, or a column-major A read in place) or, with kRowsA, a[i * a_step + k] (a
// row-major A read in place). beta == 0 never reads C.
template <typename T, bool kRowsA, typename Panel>
void micro_kernel(int64_t kc, const T* __restrict__ a, int64_t a_step, const Panel& b,
                  T alpha, T beta, T* __restrict__ c, int64_t c_rs, int64_t c_cs, int mr, int nr) {
  using S = Simd<T>;
  using V = typename S::V;
  constexpr int MR = Tile<T>::MR, NV = Tile<T>::NV, W = Tile<T>::W, NR = Tile<T>::NR;

  V acc[MR][NV];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) acc[i][j] = S::zero();
  // Start bringing the C tile in while the products accumulate.
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i) {
    if (i >= mr) break;
    TORCHEXT_PREFETCH(c + i * c_rs, 1);
    TORCHEXT_PREFETCH(c + i * c_rs + (nr - 1) * c_cs, 1);
  }

#pragma GCC unroll 4
  for (int64_t k = 0; k < kc; ++k) {
    V bv[NV];
    // A column-major A read in place takes a new cache line every k: ask for it a few k ahead.
    if (!kRowsA && k + 4 < kc) TORCHEXT_PREFETCH(a + (k + 4) * a_step, 0);
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) bv[j] = b.load(k, j);
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      V av = S::set1(kRowsA ? a[i * a_step + k] : a[k * a_step + i]);
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) acc[i][j] = S::fmadd(av, bv[j], acc[i][j]);
    }
  }

  const V va = S::set1(alpha), vb = S::set1(beta);
  if (c_cs == 1) {
    if (mr == MR && nr == NR) {
#pragma GCC unroll 16
      for (int i = 0; i < MR; ++i) {
#pragma GCC unroll 4
        for (int j = 0; j < NV; ++j) {
          T* p = c + i * c_rs + j * W;
          V r = S::mul(acc[i][j], va);
          if (beta != T(0)) r = S::fmadd(vb, S::loadu(p), r);
          S::storeu(p, r);
        }
      }
      return;
    }
    // Edge tile: only rows < mr and columns < nr, the last vector of a row masked.
#pragma GCC unroll 16
    for (int i = 0; i < MR; ++i) {
      if (i >= mr) break;
#pragma GCC unroll 4
      for (int j = 0; j < NV; ++j) {
        const int lanes = nr - j * W;
        if (lanes <= 0) break;
        T* p = c + i * c_rs + j * W;
        V r = S::mul(acc[i][j], va);
        if (lanes >= W) {
          if (beta != T(0)) r = S::fmadd(vb, S::loadu(p), r);
          S::storeu(p, r);
        } else {
          if (beta != T(0)) r = S::fmadd(vb, S::loadu_n(p, lanes), r);
          S::storeu_n(p, r, lanes);
        }
      }
    }
    return;
  }
  // C with neither unit-stride rows nor columns (rare): spill the tile, then update the mr x nr
  // valid part element by element.
  alignas(64) T tile[MR * NR];
#pragma GCC unroll 16
  for (int i = 0; i < MR; ++i)
#pragma GCC unroll 4
    for (int j = 0; j < NV; ++j) S::storeu(tile + i * NR + j * W, S::mul(acc[i][j], va));
  for (int i = 0; i < mr; ++i) {
    T* row = c + i * c_rs;
    const T* t = tile + i * NR;
    for (int j = 0; j < nr; ++j) row[j * c_cs] = beta == T(0) ? t[j] : beta * row[j * c_cs] + t[j];
  }
}

}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY::gemm_detail
