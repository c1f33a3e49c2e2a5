// scaled_dot_product_attention forward and backward (FlashAttention-2's scheme) on the CPU.
// Forward: tasks of (item, query block) in parallel; each walks the key blocks with an online
// softmax (running max and sum), so only a query block x key block tile of scores exists at a
// time, and saves each row's logsumexp. Backward: tasks of one key/value item each, walking the
// query items that read it, query blocks and key blocks in a fixed order; it recomputes the
// probabilities from the saved logsumexp and accumulates dq, dk and dv itself (no atomics, no
// order that depends on the thread count). The tile products are the project's GEMM.
#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "../attention_dispatch.h"
#include "gemm.h"
#include "loops.h"
#include "row_reduce.h"
#include "vec_exp.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY {
namespace {

constexpr int64_t kQueryBlock = 64;
constexpr int64_t kKeyBlock = 256;

// n split into ceil(n / max) blocks of equal size (the last shorter): 197 rows as 4 x 50, not
// 3 x 64 + 5.
int64_t block_size(int64_t n, int64_t max) {
  const int64_t blocks = std::max<int64_t>(1, (n + max - 1) / max);
  return std::max<int64_t>(1, (n + blocks - 1) / blocks);
}

template <typename T>
constexpr T kNegInf = -std::numeric_limits<T>::infinity();

// s[r * ld + c] = scale * q_(i0 + r) . k_(j0 + c) plus the mask (bool: -inf where false, added
// so that a NaN score stays NaN, as native's additive form), -inf past the causal diagonal.
template <typename T>
void scores(const AttentionGeometry& g, const T* q, const T* k, const void* mask, int64_t i0,
            int64_t rows, int64_t j0, int64_t cols, T* s, int64_t ld) {
  gemm<T>(rows, cols, g.E, T(g.scale), q + i0 * g.q_rs, g.q_rs, g.q_cs, k + j0 * g.k_rs, g.k_cs,
          g.k_rs, T(0), s, ld, 1);
  if (g.mask == AttentionMask::kBool) {
    const bool* m = static_cast<const bool*>(mask);
    for (int64_t r = 0; r < rows; ++r) {
      const bool* mr = m + (i0 + r) * g.m_rs + j0 * g.m_cs;
      T* sr = s + r * ld;
      for (int64_t c = 0; c < cols; ++c) sr[c] += mr[c * g.m_cs] ? T(0) : kNegInf<T>;
    }
  } else if (g.mask == AttentionMask::kAdditive) {
    const T* m = static_cast<const T*>(mask);
    for (int64_t r = 0; r < rows; ++r) {
      const T* mr = m + (i0 + r) * g.m_rs + j0 * g.m_cs;
      T* sr = s + r * ld;
      for (int64_t c = 0; c < cols; ++c) sr[c] += mr[c * g.m_cs];
    }
  }
  if (g.causal) {
    for (int64_t r = 0; r < rows; ++r)
      for (int64_t c = std::max<int64_t>(0, i0 + r + 1 - j0); c < cols; ++c) s[r * ld + c] = kNegInf<T>;
  }
}

template <typename T>
double row_sum(const T* x, int64_t n) {
  return rowred::sums<1, T>(n, [x](int64_t i, auto tag) {
    using V = decltype(tag);
    return std::array<V, 1>{rowred::load<V>(x + i)};
  })[0];
}

// Whether a causal query block [i0, i0 + rows) sees none of the keys from j0 on.
bool causal_skip(const AttentionGeometry& g, int64_t i0, int64_t rows, int64_t j0) {
  return g.causal && j0 > i0 + rows - 1;
}

template <typename T>
const void* mask_at(const AttentionGeometry& g, const void* mask, int64_t offset) {
  if (g.mask == AttentionMask::kBool) return static_cast<const bool*>(mask) + offset;
  if (g.mask == AttentionMask::kAdditive) return static_cast<const T*>(mask) + offset;
  return nullptr;
}

}  // namespace

template <typename T>
void attention(const AttentionGeometry& g, const T* q, const T* k, const T* v, const void* mask,
               T* out, T* lse) {
  const int64_t bq = block_size(g.L, kQueryBlock), bk = block_size(g.S, kKeyBlock);
  const int64_t q_blocks = (g.L + bq - 1) / bq;
  parallel_chunks(g.items * q_blocks, [&](int64_t t0, int64_t t1) {
    std::vector<T> s(bq * bk);
    std::vector<T> m(bq), l(bq);
    for (int64_t t = t0; t < t1; ++t) {
      const int64_t n = t / q_blocks, i0 = (t % q_blocks) * bq, rows = std::min(bq, g.L - i0);
      int64_t qo, ko, vo, mo, kv;
      g.offsets(n, qo, ko, vo, mo, kv);
      const void* mk = mask_at<T>(g, mask, mo);
      T* o = out + (n * g.L + i0) * g.Ev;
      std::fill(m.begin(), m.end(), kNegInf<T>);
      std::fill(l.begin(), l.end(), T(0));
      std::fill(o, o + rows * g.Ev, T(0));
      for (int64_t j0 = 0; j0 < g.S && !causal_skip(g, i0, rows, j0); j0 += bk) {
        const int64_t cols = std::min(bk, g.S - j0);
        scores(g, q + qo, k + ko, mk, i0, rows, j0, cols, s.data(), bk);
        for (int64_t r = 0; r < rows; ++r) {
          T* sr = s.data() + r * bk;
          const T block_max = vexp::row_max(sr, cols);
          const T m_new = (block_max > m[r] || block_max != block_max) ? block_max : m[r];
          if (m_new == kNegInf<T>) {  // every key so far masked: nothing to add
            std::fill(sr, sr + cols, T(0));
            continue;
          }
          vexp::exp_shifted(sr, m_new, sr, cols);
          const T alpha = m[r] == kNegInf<T> ? T(0) : T(std::exp(m[r] - m_new));
          if (alpha != T(1) && l[r] != T(0)) {
            T* orow = o + r * g.Ev;
            for (int64_t e = 0; e < g.Ev; ++e) orow[e] *= alpha;
          }
          l[r] = l[r] * alpha + T(row_sum(sr, cols));
          m[r] = m_new;
        }
        gemm<T>(rows, g.Ev, cols, T(1), s.data(), bk, 1, v + vo + j0 * g.v_rs, g.v_rs, g.v_cs, T(1), o,
                g.Ev, 1);
      }
      for (int64_t r = 0; r < rows; ++r) {
        T* orow = o + r * g.Ev;
        if (l[r] == T(0)) {  // every key masked (or none): native's 0
          std::fill(orow, orow + g.Ev, T(0));
          lse[n * g.L + i0 + r] = kNegInf<T>;
          continue;
        }
        const T inv = T(1) / l[r];
        for (int64_t e = 0; e < g.Ev; ++e) orow[e] *= inv;
        lse[n * g.L + i0 + r] = m[r] + T(std::log(l[r]));
      }
    }
  }, 1);
}

template <typename T>
void attention_backward(const AttentionGeometry& g, const T* q, const T* k, const T* v, const void* mask,
                        const T* out, const T* lse, const T* grad_out, T* dq, T* dk, T* dv, T* dmask) {
  const int64_t bq = block_size(g.L, kQueryBlock), bk = block_size(g.S, kKeyBlock);
  parallel_chunks(g.kv_items, [&](int64_t g0, int64_t g1) {
    std::vector<T> p(bq * bk), dp(bq * bk), d(g.L);
    for (int64_t gk = g0; gk < g1; ++gk) {
      T* dkg = dk + gk * g.S * g.E;
      T* dvg = dv + gk * g.S * g.Ev;
      std::fill(dkg, dkg + g.S * g.E, T(0));
      std::fill(dvg, dvg + g.S * g.Ev, T(0));
      for (int64_t n = 0; n < g.items; ++n) {
        int64_t qo, ko, vo, mo, kv;
        g.offsets(n, qo, ko, vo, mo, kv);
        if (kv != gk) continue;
        const void* mk = mask_at<T>(g, mask, mo);
        const T* dout = grad_out + n * g.L * g.Ev;
        const T* o = out + n * g.L * g.Ev;
        const T* lsen = lse + n * g.L;
        T* dqn = dq + n * g.L * g.E;
        std::fill(dqn, dqn + g.L * g.E, T(0));
        for (int64_t i = 0; i < g.L; ++i) {
          const T* a = dout + i * g.Ev;
          const T* b = o + i * g.Ev;
          d[i] = T(rowred::sums<1, T>(g.Ev, [a, b](int64_t e, auto tag) {
            using V = decltype(tag);
            return std::array<V, 1>{rowred::load<V>(a + e) * rowred::load<V>(b + e)};
          })[0]);
        }
        for (int64_t i0 = 0; i0 < g.L; i0 += bq) {
          const int64_t rows = std::min(bq, g.L - i0);
          for (int64_t j0 = 0; j0 < g.S && !causal_skip(g, i0, rows, j0); j0 += bk) {
            const int64_t cols = std::min(bk, g.S - j0);
            scores(g, q + qo, k + ko, mk, i0, rows, j0, cols, p.data(), bk);
            for (int64_t r = 0; r < rows; ++r) {
              T* pr = p.data() + r * bk;
              const T row_lse = lsen[i0 + r];
              if (row_lse == kNegInf<T>) {
                std::fill(pr, pr + cols, T(0));
              } else {
                vexp::exp_shifted(pr, row_lse, pr, cols);
              }
            }
            // dv += p^T dout; dp = dout v^T; ds = p * (dp - D); dq += scale ds k; dk += scale ds^T q.
            gemm<T>(cols, g.Ev, rows, T(1), p.data(), 1, bk, dout + i0 * g.Ev, g.Ev, 1, T(1),
                    dvg + j0 * g.Ev, g.Ev, 1);
            gemm<T>(rows, cols, g.Ev, T(1), dout + i0 * g.Ev, g.Ev, 1, v + vo + j0 * g.v_rs, g.v_cs,
                    g.v_rs, T(0), dp.data(), bk, 1);
            for (int64_t r = 0; r < rows; ++r) {
              const T* pr = p.data() + r * bk;
              T* dsr = dp.data() + r * bk;
              const T dr = d[i0 + r];
              for (int64_t c = 0; c < cols; ++c) dsr[c] = pr[c] * (dsr[c] - dr);
              if (dmask) std::copy(dsr, dsr + cols, dmask + (n * g.L + i0 + r) * g.S + j0);
            }
            gemm<T>(rows, g.E, cols, T(g.scale), dp.data(), bk, 1, k + ko + j0 * g.k_rs, g.k_rs, g.k_cs,
                    T(1), dqn + i0 * g.E, g.E, 1);
            gemm<T>(cols, g.E, rows, T(g.scale), dp.data(), 1, bk, q + qo + i0 * g.q_rs, g.q_rs, g.q_cs,
                    T(1), dkg + j0 * g.E, g.E, 1);
          }
        }
      }
    }
  }, 1);
}

}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY

TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::AttentionKernel, attention);
TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::AttentionBackwardKernel, attention_backward);
