// Packing for the GEMM: copies a block of A (or B) from any strides into the contiguous,
// zero-padded micro-panel layout the micro-kernel streams through, so transposed or strided
// operands cost nothing extra past this copy.
#pragma once
#include <algorithm>
#include <cstdint>
#if defined(__AVX2__)
#include <immintrin.h>
#endif

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY::gemm_detail {

#if defined(__AVX2__)
// In-register transposes of one vector-square block: dst[r * ds + c] = src[c * ss + r] for
// r, c < 8 (float) or < 4 (double). Unpack pairs, then quads, then swap 128-bit halves.
inline void transpose_block(const float* src, int64_t ss, float* dst, int64_t ds) {
  __m256 r[8], t[8], q[8];
  for (int i = 0; i < 8; ++i) r[i] = _mm256_loadu_ps(src + i * ss);
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
  for (int i = 0; i < 8; i += 4) {
    q[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    q[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    q[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    q[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
  for (int i = 0; i < 4; ++i) {
    _mm256_storeu_ps(dst + i * ds, _mm256_permute2f128_ps(q[i], q[i + 4], 0x20));
    _mm256_storeu_ps(dst + (i + 4) * ds, _mm256_permute2f128_ps(q[i], q[i + 4], 0x31));
  }
}

inline void transpose_block(const double* src, int64_t ss, double* dst, int64_t ds) {
  __m256d r[4];
  for (int i = 0; i < 4; ++i) r[i] = _mm256_loadu_pd(src + i * ss);
  const __m256d t0 = _mm256_unpacklo_pd(r[0], r[1]), t1 = _mm256_unpackhi_pd(r[0], r[1]);
  const __m256d t2 = _mm256_unpacklo_pd(r[2], r[3]), t3 = _mm256_unpackhi_pd(r[2], r[3]);
  _mm256_storeu_pd(dst, _mm256_permute2f128_pd(t0, t2, 0x20));
  _mm256_storeu_pd(dst + ds, _mm256_permute2f128_pd(t1, t3, 0x20));
  _mm256_storeu_pd(dst + 2 * ds, _mm256_permute2f128_pd(t0, t2, 0x31));
  _mm256_storeu_pd(dst + 3 * ds, _mm256_permute2f128_pd(t1, t3, 0x31));
}
#endif

// An mc x kc block of A (A(i, k) = a[i * rs + k * cs]) as ceil(mc / MR) panels; panel p holds
// A(p * MR + r, k) at out[p * kc * MR + k * MR + r], rows past mc zero.
template <typename T, int MR>
void pack_a(int64_t mc, int64_t kc, const T* a, int64_t rs, int64_t cs, T* __restrict__ out) {
  for (int64_t i0 = 0; i0 < mc; i0 += MR) {
    const int mr = static_cast<int>(std::min<int64_t>(MR, mc - i0));
    const T* src = a + i0 * rs;
    if (cs == 1 && rs != 1) {
      // Rows contiguous in k: read each row in order, scatter into the panel's columns.
      for (int r = 0; r < mr; ++r) {
        const T* row = src + r * rs;
        for (int64_t k = 0; k < kc; ++k) out[k * MR + r] = row[k];
      }
      for (int r = mr; r < MR; ++r)
        for (int64_t k = 0; k < kc; ++k) out[k * MR + r] = T(0);
    } else {
      for (int64_t k = 0; k < kc; ++k) {
        const T* col = src + k * cs;
        T* dst = out + k * MR;
        if (mr == MR && rs == 1) {
          for (int r = 0; r < MR; ++r) dst[r] = col[r];  // fixed-length copy, vectorized
        } else {
          for (int r = 0; r < mr; ++r) dst[r] = col[r * rs];
          for (int r = mr; r < MR; ++r) dst[r] = T(0);
        }
      }
    }
    out += kc * MR;
  }
}

// A kc x nc block of B (B(k, j) = b[k * rs + j * cs]) as ceil(nc / NR) panels; panel p holds
// B(k, p * NR + j) at out[p * kc * NR + k * NR + j], columns past nc zero.
template <typename T, int NR>
void pack_b(int64_t kc, int64_t nc, const T* b, int64_t rs, int64_t cs, T* __restrict__ out) {
  const int64_t panels = (nc + NR - 1) / NR;
  if (cs == 1) {
    // Row-major B: stream each row of the block once, dealing NR-wide pieces to the panels.
    for (int64_t k = 0; k < kc; ++k) {
      const T* row = b + k * rs;
      T* dst = out + k * NR;
      for (int64_t p = 0; p < panels; ++p, row += NR, dst += kc * NR) {
        const int nr = static_cast<int>(std::min<int64_t>(NR, nc - p * NR));
        if (nr == NR) {
          for (int j = 0; j < NR; ++j) dst[j] = row[j];
        } else {
          for (int j = 0; j < nr; ++j) dst[j] = row[j];
          for (int j = nr; j < NR; ++j) dst[j] = T(0);
        }
      }
    }
    return;
  }
  for (int64_t p = 0; p < panels; ++p, out += kc * NR) {
    const int nr = static_cast<int>(std::min<int64_t>(NR, nc - p * NR));
    const T* src = b + p * NR * cs;
    if (rs == 1) {
      // Columns contiguous in k (transposed B): a full panel goes through square in-register
      // transposes, the rest one column at a time.
      int64_t k0 = 0;
#if defined(__AVX2__)
      constexpr int kBlock = 32 / sizeof(T);
      if (NR % kBlock == 0 && nr == NR) {
        for (; k0 + kBlock <= kc; k0 += kBlock)
          for (int j = 0; j < NR; j += kBlock)
            transpose_block(src + j * cs + k0, cs, out + k0 * NR + j, NR);
      }
#endif
      for (int j = 0; j < nr; ++j) {
        const T* col = src + j * cs;
        for (int64_t k = k0; k < kc; ++k) out[k * NR + j] = col[k];
      }
      for (int j = nr; j < NR; ++j)
        for (int64_t k = 0; k < kc; ++k) out[k * NR + j] = T(0);
    } else {
      for (int64_t k = 0; k < kc; ++k) {
        const T* row = src + k * rs;
        T* dst = out + k * NR;
        for (int j = 0; j < nr; ++j) dst[j] = row[j * cs];
        for (int j = nr; j < NR; ++j) dst[j] = T(0);
      }
    }
  }
}

}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY::gemm_detail
