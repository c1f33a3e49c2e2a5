// scaled_dot_product_attention forward and backward (CUDA kernels), straightforward tiling.
// Forward: a block of kQueryRows threads, one query row each, walks the keys in tiles of kKeys
// staged in shared memory (kChunk embedding values at a time) with an online softmax per row; the
// row's output accumulates in scratch of the accumulate type. Backward from the saved logsumexp:
// D = rowsum(dO * O), then a thread per query row for dq and a thread per key row for dk and dv,
// each summing in a fixed order (no atomics: deterministic).
#include <limits>

#include "attention.h"
#include "cuda_utils.cuh"

namespace torchext::cuda {
namespace {

constexpr int kQueryRows = 64;
constexpr int kKeys = 16;
constexpr int kChunk = 64;
constexpr int64_t kMaxGridY = 65535;

template <typename A>
__device__ __forceinline__ A neg_inf() {
  return -std::numeric_limits<A>::infinity();
}

template <typename A>
__device__ __forceinline__ A nan_max(A a, A b) {
  return (a > b || a != a) ? a : b;
}

// The mask and causal terms of score (i, j), added to the scaled product s.
template <typename T, typename A>
__device__ __forceinline__ A masked(const AttentionGeometry& g, const void* mask, int64_t mo, int64_t i, int64_t j,
                                    A s) {
  if (g.mask == AttentionMask::kBool) {
    if (!static_cast<const bool*>(mask)[mo + i * g.m_rs + j * g.m_cs]) s += neg_inf<A>();
  } else if (g.mask == AttentionMask::kAdditive) {
    s += static_cast<A>(static_cast<const T*>(mask)[mo + i * g.m_rs + j * g.m_cs]);
  }
  return g.causal && j > i ? neg_inf<A>() : s;
}

// The probability of score (i, j) from the scaled product s and the row's logsumexp.
template <typename T, typename A>
__device__ __forceinline__ A probability(const AttentionGeometry& g, const void* mask, int64_t mo, int64_t i,
                                         int64_t j, A s, A row_lse) {
  return row_lse == neg_inf<A>() ? A(0) : exp(masked<T, A>(g, mask, mo, i, j, s) - row_lse);
}

template <typename T>
__global__ void attention_forward_kernel(AttentionGeometry g, const T* __restrict__ q, const T* __restrict__ k,
                                         const T* __restrict__ v, const void* mask, T* __restrict__ out,
                                         acc_t<T>* __restrict__ lse, acc_t<T>* __restrict__ acc) {
  using A = acc_t<T>;
  __shared__ A tile[kKeys][kChunk];
  const A scale = static_cast<A>(g.scale);
  const int64_t first_row = static_cast<int64_t>(blockIdx.x) * kQueryRows;
  const int64_t last_row = min(g.L - 1, first_row + kQueryRows - 1);
  const int64_t i = first_row + threadIdx.x;
  const bool live = i < g.L;
  for (int64_t n = blockIdx.y; n < g.items; n += gridDim.y) {
    int64_t qo, ko, vo, mo, kv;
    g.offsets(n, qo, ko, vo, mo, kv);
    A* o = acc + (n * g.L + (live ? i : 0)) * g.Ev;
    if (live)
      for (int64_t e = 0; e < g.Ev; ++e) o[e] = A(0);
    A m = neg_inf<A>(), l = A(0);
    // Key tiles past the causal diagonal of the block's last row are skipped by every thread alike.
    for (int64_t j0 = 0; j0 < g.S && !(g.causal && j0 > last_row); j0 += kKeys) {
      A s[kKeys];
      for (int kk = 0; kk < kKeys; ++kk) s[kk] = A(0);
      for (int64_t e0 = 0; e0 < g.E; e0 += kChunk) {
        for (int t = threadIdx.x; t < kKeys * kChunk; t += blockDim.x) {
          const int64_t j = j0 + t / kChunk, e = e0 + t % kChunk;
          tile[t / kChunk][t % kChunk] = j < g.S && e < g.E ? static_cast<A>(k[ko + j * g.k_rs + e * g.k_cs]) : A(0);
        }
        __syncthreads();
        if (live) {
          for (int64_t e = 0; e < kChunk && e0 + e < g.E; ++e) {
            const A qe = static_cast<A>(q[qo + i * g.q_rs + (e0 + e) * g.q_cs]);
            for (int kk = 0; kk < kKeys; ++kk) s[kk] += qe * tile[kk][e];
          }
        }
        __syncthreads();
      }
      A tile_max = neg_inf<A>();
      for (int kk = 0; kk < kKeys; ++kk) {
        const int64_t j = j0 + kk;
        s[kk] = live && j < g.S ? masked<T, A>(g, mask, mo, i, j, s[kk] * scale) : neg_inf<A>();
        tile_max = nan_max(s[kk], tile_max);
      }
      const A m_new = nan_max(tile_max, m);
      A alpha = A(1), p[kKeys], p_sum = A(0);
      for (int kk = 0; kk < kKeys; ++kk) {
        p[kk] = m_new == neg_inf<A>() ? A(0) : exp(s[kk] - m_new);
        p_sum += p[kk];
      }
      if (m_new != neg_inf<A>()) {
        alpha = m == neg_inf<A>() ? A(0) : exp(m - m_new);
        m = m_new;
      }
      l = l * alpha + p_sum;
      for (int64_t e0 = 0; e0 < g.Ev; e0 += kChunk) {
        for (int t = threadIdx.x; t < kKeys * kChunk; t += blockDim.x) {
          const int64_t j = j0 + t / kChunk, e = e0 + t % kChunk;
          tile[t / kChunk][t % kChunk] = j < g.S && e < g.Ev ? static_cast<A>(v[vo + j * g.v_rs + e * g.v_cs]) : A(0);
        }
        __syncthreads();
        if (live) {
          for (int64_t e = 0; e < kChunk && e0 + e < g.Ev; ++e) {
            A sum = A(0);
            for (int kk = 0; kk < kKeys; ++kk) sum += p[kk] * tile[kk][e];
            o[e0 + e] = o[e0 + e] * alpha + sum;
          }
        }
        __syncthreads();
      }
    }
    if (live) {
      T* y = out + (n * g.L + i) * g.Ev;
      // Every key masked (or none): native's 0.
      const A inv = l == A(0) ? A(0) : A(1) / l;
      for (int64_t e = 0; e < g.Ev; ++e) y[e] = static_cast<T>(l == A(0) ? A(0) : o[e] * inv);
      lse[n * g.L + i] = l == A(0) ? neg_inf<A>() : m + log(l);
    }
  }
}

// D[row] = sum over e of dO * O.
template <typename T>
__global__ void attention_delta_kernel(const T* __restrict__ grad_out, const T* __restrict__ out, int64_t rows,
                                       int64_t Ev, acc_t<T>* __restrict__ delta) {
  using A = acc_t<T>;
  for (int64_t r = thread_index(); r < rows; r += thread_count()) {
    A s = A(0);
    for (int64_t e = 0; e < Ev; ++e) s += static_cast<A>(grad_out[r * Ev + e]) * static_cast<A>(out[r * Ev + e]);
    delta[r] = s;
  }
}

// The scaled product of query row i (offset qo) and key row j (offset ko).
template <typename T, typename A>
__device__ __forceinline__ A dot_qk(const AttentionGeometry& g, const T* q, int64_t qo, int64_t i, const T* k,
                                    int64_t ko, int64_t j) {
  A s = A(0);
  for (int64_t e = 0; e < g.E; ++e)
    s += static_cast<A>(q[qo + i * g.q_rs + e * g.q_cs]) * static_cast<A>(k[ko + j * g.k_rs + e * g.k_cs]);
  return s * static_cast<A>(g.scale);
}

// dO row i (contiguous, n's) . value row j.
template <typename T, typename A>
__device__ __forceinline__ A dot_dov(const AttentionGeometry& g, const T* dout, const T* v, int64_t vo, int64_t j) {
  A s = A(0);
  for (int64_t e = 0; e < g.Ev; ++e) s += static_cast<A>(dout[e]) * static_cast<A>(v[vo + j * g.v_rs + e * g.v_cs]);
  return s;
}

// A thread per query row: dq = scale * sum over j of ds_ij k_j, ds = p * (dO . v_j - D).
template <typename T>
__global__ void attention_dq_kernel(AttentionGeometry g, const T* __restrict__ q, const T* __restrict__ k,
                                    const T* __restrict__ v, const void* mask, const acc_t<T>* __restrict__ lse,
                                    const acc_t<T>* __restrict__ delta, const T* __restrict__ grad_out,
                                    acc_t<T>* __restrict__ acc, T* __restrict__ dq, T* __restrict__ dmask) {
  using A = acc_t<T>;
  for (int64_t r = thread_index(); r < g.items * g.L; r += thread_count()) {
    const int64_t n = r / g.L, i = r % g.L;
    int64_t qo, ko, vo, mo, kv;
    g.offsets(n, qo, ko, vo, mo, kv);
    A* a = acc + r * g.E;
    for (int64_t e = 0; e < g.E; ++e) a[e] = A(0);
    for (int64_t j = 0; j < g.S; ++j) {
      const A p = probability<T, A>(g, mask, mo, i, j, dot_qk<T, A>(g, q, qo, i, k, ko, j), lse[r]);
      const A ds = p * (dot_dov<T, A>(g, grad_out + r * g.Ev, v, vo, j) - delta[r]);
      if (dmask != nullptr) dmask[r * g.S + j] = static_cast<T>(ds);
      for (int64_t e = 0; e < g.E; ++e) a[e] += ds * static_cast<A>(k[ko + j * g.k_rs + e * g.k_cs]);
    }
    for (int64_t e = 0; e < g.E; ++e) dq[r * g.E + e] = static_cast<T>(a[e] * static_cast<A>(g.scale));
  }
}

// A thread per key row of a key/value item: over the query items that read it and their rows,
// dv = sum of p dO_i and dk = scale * sum of ds q_i.
template <typename T>
__global__ void attention_dkv_kernel(AttentionGeometry g, const T* __restrict__ q, const T* __restrict__ k,
                                     const T* __restrict__ v, const void* mask, const acc_t<T>* __restrict__ lse,
                                     const acc_t<T>* __restrict__ delta, const T* __restrict__ grad_out,
                                     acc_t<T>* __restrict__ acc, T* __restrict__ dk, T* __restrict__ dv) {
  using A = acc_t<T>;
  for (int64_t r = thread_index(); r < g.kv_items * g.S; r += thread_count()) {
    const int64_t gk = r / g.S, j = r % g.S;
    A* ak = acc + r * (g.E + g.Ev);
    A* av = ak + g.E;
    for (int64_t e = 0; e < g.E + g.Ev; ++e) ak[e] = A(0);
    for (int64_t n = 0; n < g.items; ++n) {
      int64_t qo, ko, vo, mo, kv;
      g.offsets(n, qo, ko, vo, mo, kv);
      if (kv != gk) continue;
      for (int64_t i = g.causal ? j : 0; i < g.L; ++i) {
        const int64_t row = n * g.L + i;
        const A p = probability<T, A>(g, mask, mo, i, j, dot_qk<T, A>(g, q, qo, i, k, ko, j), lse[row]);
        const T* dout = grad_out + row * g.Ev;
        const A ds = p * (dot_dov<T, A>(g, dout, v, vo, j) - delta[row]);
        for (int64_t e = 0; e < g.Ev; ++e) av[e] += p * static_cast<A>(dout[e]);
        for (int64_t e = 0; e < g.E; ++e) ak[e] += ds * static_cast<A>(q[qo + i * g.q_rs + e * g.q_cs]);
      }
    }
    for (int64_t e = 0; e < g.E; ++e) dk[r * g.E + e] = static_cast<T>(ak[e] * static_cast<A>(g.scale));
    for (int64_t e = 0; e < g.Ev; ++e) dv[r * g.Ev + e] = static_cast<T>(av[e]);
  }
}

}  // namespace

template <typename T>
void attention_launch(const AttentionGeometry& g, const T* q, const T* k, const T* v, const void* mask, T* out,
                      acc_t<T>* lse) {
  using A = acc_t<T>;
  if (g.items == 0 || g.L == 0) return;
  auto scratch = allocate_scratch<A>(std::max<int64_t>(1, g.items * g.L * g.Ev));
  const dim3 grid(static_cast<unsigned>(ceil_div(g.L, kQueryRows)),
                  static_cast<unsigned>(std::min(g.items, kMaxGridY)));
  attention_forward_kernel<T><<<grid, kQueryRows, 0, current_stream()>>>(g, q, k, v, mask, out, lse,
                                                                          static_cast<A*>(scratch.get()));
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T>
void attention_backward_launch(const AttentionGeometry& g, const T* q, const T* k, const T* v, const void* mask,
                               const T* out, const acc_t<T>* lse, const T* grad_out, T* dq, T* dk, T* dv,
                               T* dmask) {
  using A = acc_t<T>;
  const int64_t rows = g.items * g.L, key_rows = g.kv_items * g.S;
  auto delta = allocate_scratch<A>(std::max<int64_t>(1, rows));
  auto acc = allocate_scratch<A>(std::max<int64_t>({1, rows * g.E, key_rows * (g.E + g.Ev)}));
  A* d = static_cast<A*>(delta.get());
  if (rows > 0) {
    attention_delta_kernel<T><<<grid_for(rows), kBlock, 0, current_stream()>>>(grad_out, out, rows, g.Ev, d);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    attention_dq_kernel<T><<<grid_for(rows), kBlock, 0, current_stream()>>>(
        g, q, k, v, mask, lse, d, grad_out, static_cast<A*>(acc.get()), dq, dmask);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
  if (key_rows > 0) {
    attention_dkv_kernel<T><<<grid_for(key_rows), kBlock, 0, current_stream()>>>(
        g, q, k, v, mask, lse, d, grad_out, static_cast<A*>(acc.get()), dk, dv);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
}

#define INSTANTIATE(T)                                                                                    \
  template void attention_launch<T>(const AttentionGeometry&, const T*, const T*, const T*, const void*, T*, \
                                    acc_t<T>*);                                                           \
  template void attention_backward_launch<T>(const AttentionGeometry&, const T*, const T*, const T*,       \
                                             const void*, const T*, const acc_t<T>*, const T*, T*, T*, T*, T*);
TORCHEXT_FOR_CUDA_FLOATING_TYPES(INSTANTIATE)
#undef INSTANTIATE

}  // namespace torchext::cuda
