// Packing for the GEMM: copies a block of A (or B) from any strides into the contiguous,
// zero-padded micro-panel layout the micro-kernel streams through, so transposed or strided
// operands cost nothing extra past this copy.
#pragma once
#include <algorithm>
#include <cstdint>

namespace torchext::cpu::gemm_detail {

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
        for (int r = 0; r < mr; ++r) dst[r] = col[r * rs];
        for (int r = mr; r < MR; ++r) dst[r] = T(0);
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
      // Columns contiguous in k (transposed B): read each column in order.
      for (int j = 0; j < nr; ++j) {
        const T* col = src + j * cs;
        for (int64_t k = 0; k < kc; ++k) out[k * NR + j] = col[k];
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

}  // namespace torchext::cpu::gemm_detail
