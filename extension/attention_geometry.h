// The addressing of scaled_dot_product_attention's operands, shared by the host code that builds
// it (attention_args.h) and the CPU and CUDA kernels. Plain C++: .cpp and .cu files include it.
//
// Query is (batch..., L, E), key (kv batch..., S, E), value (kv batch..., S, Ev); the output
// (batch..., L, Ev) is contiguous. An item is one (batch...) index of the query; its key/value
// item follows the kv batch dims' broadcasting (size 1: every item shares it) and GQA (the heads
// dim, batch dim nd - 1, maps query head h to key head h / group).
#pragma once
#include <c10/macros/Macros.h>

#include <cstdint>

namespace torchext {

constexpr int kMaxAttentionBatchDims = 8;

enum class AttentionMask : int { kNone = 0, kBool = 1, kAdditive = 2 };

struct AttentionGeometry {
  int64_t items = 0, kv_items = 0;  // query items; key/value items (the kv batch dims' product)
  int64_t L = 0, S = 0, E = 0, Ev = 0;
  int nd = 0;                                 // batch dims
  int64_t size[kMaxAttentionBatchDims] = {};  // the query's batch sizes
  // Element strides over the query's batch dims: 0 where broadcast; key/value and kv_flat (the
  // contiguous strides of the kv batch shape, which dK/dV have) index the head dim by h / group.
  int64_t q_st[kMaxAttentionBatchDims] = {}, k_st[kMaxAttentionBatchDims] = {},
          v_st[kMaxAttentionBatchDims] = {}, m_st[kMaxAttentionBatchDims] = {},
          kv_flat[kMaxAttentionBatchDims] = {};
  int64_t group = 1;
  // Row and column strides of the matrices.
  int64_t q_rs = 0, q_cs = 0, k_rs = 0, k_cs = 0, v_rs = 0, v_cs = 0, m_rs = 0, m_cs = 0;
  AttentionMask mask = AttentionMask::kNone;
  bool causal = false;  // key j > query i masked (top-left aligned, as native's tril)
  double scale = 1.0;

  // The batch index of item n along dim d, with GQA's head mapping for the key/value operands.
  C10_HOST_DEVICE int64_t kv_index(int d, int64_t b) const { return d == nd - 1 ? b / group : b; }

  C10_HOST_DEVICE void offsets(int64_t n, int64_t& q, int64_t& k, int64_t& v, int64_t& m,
                               int64_t& kv_item) const {
    q = k = v = m = kv_item = 0;
    for (int d = nd - 1; d >= 0; --d) {
      const int64_t b = n % size[d];
      n /= size[d];
      q += b * q_st[d];
      m += b * m_st[d];
      const int64_t bk = kv_index(d, b);
      k += bk * k_st[d];
      v += bk * v_st[d];
      kv_item += bk * kv_flat[d];
    }
  }

  C10_HOST_DEVICE int64_t kv_item_of(int64_t n) const {
    int64_t q, k, v, m, g;
    offsets(n, q, k, v, m, g);
    return g;
  }
};

}  // namespace torchext
