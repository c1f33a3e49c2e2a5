// Argument checks for scaled_dot_product_attention and its backward, shared by the CPU and CUDA
// host code, and the operands' addressing (attention_geometry.h) built from the checked tensors.
#pragma once
#include <ATen/ATen.h>

#include <cmath>
#include <optional>
#include <vector>

#include "attention_geometry.h"
#include "common.h"

namespace torchext {

inline const at::Tensor* defined_or_null(const std::optional<at::Tensor>& t) {
  return t.has_value() && t->defined() ? &*t : nullptr;
}

// query (batch..., L, E), key (kv batch..., S, E), value (kv batch..., S, Ev), one rank; the kv
// batch dims equal the query's or are 1, and with enable_gqa the heads dim (the last batch dim)
// may divide the query's. attn_mask: bool or query's dtype, broadcastable to (batch..., L, S).
inline AttentionGeometry check_attention_args(const char* op, const at::Tensor& query,
                                              const at::Tensor& key, const at::Tensor& value,
                                              const std::optional<at::Tensor>& attn_mask,
                                              bool is_causal, std::optional<double> scale,
                                              bool enable_gqa) {
  check_float(op, "query", query);
  for (const auto& [arg, t] : {std::pair{"key", &key}, std::pair{"value", &value}}) {
    check_float(op, arg, *t);
    check_same_device(op, "query", query, arg, *t);
    check_same_dtype(op, "query", query, arg, *t);
    TORCH_CHECK(t->dim() == query.dim(), op, ": expected ", arg, " to have query's ", query.dim(),
                " dimensions but got shape ", t->sizes());
  }
  const int64_t nd = query.dim() - 2;
  TORCH_CHECK(nd >= 0 && nd <= kMaxAttentionBatchDims, op, ": expected query to have 2 to ",
              kMaxAttentionBatchDims + 2, " dimensions (batch..., L, E) but got shape ", query.sizes());
  TORCH_CHECK(key.size(-1) == query.size(-1), op, ": expected key's last dimension (", key.size(-1),
              ") to equal query's embedding size ", query.size(-1));
  TORCH_CHECK(value.size(-2) == key.size(-2), op, ": expected value's sequence length (",
              value.size(-2), ") to equal key's ", key.size(-2));
  AttentionGeometry g;
  g.nd = static_cast<int>(nd);
  g.L = query.size(-2), g.S = key.size(-2), g.E = query.size(-1), g.Ev = value.size(-1);
  g.items = 1;
  g.kv_items = 1;
  for (int64_t d = nd - 1; d >= 0; --d) {
    const int64_t qs = query.size(d), ks = key.size(d);
    TORCH_CHECK(value.size(d) == ks, op, ": expected key and value to have the same batch sizes but got ",
                key.sizes(), " and ", value.sizes());
    const bool heads = enable_gqa && d == nd - 1 && ks > 0 && qs % ks == 0 && ks != qs;
    TORCH_CHECK(ks == qs || ks == 1 || heads, op, ": expected key's batch dimension ", d, " (", ks,
                ") to equal query's (", qs, ") or be 1",
                d == nd - 1 ? " (or, with enable_gqa=True, divide it)" : "",
                "; query's batch dimensions must be the broadcast shape. Got query ", query.sizes(),
                " and key ", key.sizes());
    if (heads) g.group = qs / ks;
    g.size[d] = qs;
    g.q_st[d] = query.stride(d);
    g.k_st[d] = ks == 1 ? 0 : key.stride(d);
    g.v_st[d] = ks == 1 ? 0 : value.stride(d);
    g.kv_flat[d] = ks == 1 ? 0 : g.kv_items;
    g.items *= qs;
    g.kv_items *= ks;
  }
  g.q_rs = query.stride(-2), g.q_cs = query.stride(-1);
  g.k_rs = key.stride(-2), g.k_cs = key.stride(-1);
  g.v_rs = value.stride(-2), g.v_cs = value.stride(-1);
  g.causal = is_causal;
  g.scale = scale.has_value() ? *scale : 1.0 / std::sqrt(static_cast<double>(g.E));
  if (const at::Tensor* m = defined_or_null(attn_mask)) {
    TORCH_CHECK(!is_causal, op, ": expected attn_mask to be None when is_causal=True (explicit "
                "attn_mask should not be set when is_causal=True)");
    check_same_device(op, "query", query, "attn_mask", *m);
    TORCH_CHECK(m->scalar_type() == at::kBool || m->scalar_type() == query.scalar_type(), op,
                ": expected attn_mask to be bool or query's dtype ", query.scalar_type(), " but got ",
                m->scalar_type());
    // IndexError below 2 dims, as native's.
    TORCH_CHECK_INDEX(m->dim() >= 2, op, ": expected attn_mask with at least 2 dimensions (L, S) but got shape ",
                      m->sizes());
    TORCH_CHECK(m->dim() <= query.dim(), op, ": expected attn_mask broadcastable to (batch..., L, S) but got ",
                "shape ", m->sizes(), " for query ", query.sizes());
    std::vector<int64_t> full(query.sizes().begin(), query.sizes().end() - 2);
    full.push_back(g.L);
    full.push_back(g.S);
    const int64_t lead = query.dim() - m->dim();
    for (int64_t d = 0; d < m->dim(); ++d)
      TORCH_CHECK(m->size(d) == 1 || m->size(d) == full[lead + d], op, ": expected attn_mask ",
                  "broadcastable to (batch..., L, S) = ", at::IntArrayRef(full), " but got shape ",
                  m->sizes());
    auto stride = [&](int64_t d) {  // d in the full shape's dims
      const int64_t md = d - lead;
      return md < 0 || m->size(md) == 1 ? int64_t(0) : m->stride(md);
    };
    for (int64_t d = 0; d < nd; ++d) g.m_st[d] = stride(d);
    g.m_rs = stride(nd), g.m_cs = stride(nd + 1);
    g.mask = m->scalar_type() == at::kBool ? AttentionMask::kBool : AttentionMask::kAdditive;
  }
  return g;
}

// The output's and lse's shapes: query's batch dims, then (L, Ev) and (L).
inline std::vector<int64_t> attention_shape(const at::Tensor& query, std::vector<int64_t> tail) {
  std::vector<int64_t> shape(query.sizes().begin(), query.sizes().end() - 2);
  shape.insert(shape.end(), tail.begin(), tail.end());
  return shape;
}

// The backward's saved tensors: out as the forward made it, lse of `lse_dtype`, grad_out as out.
inline void check_attention_saved(const char* op, const at::Tensor& query, const at::Tensor& grad_out,
                                  const at::Tensor& out, const at::Tensor& lse, const AttentionGeometry& g,
                                  at::ScalarType lse_dtype) {
  const auto out_shape = attention_shape(query, {g.L, g.Ev});
  for (const auto& [arg, t] : {std::pair{"grad_out", &grad_out}, std::pair{"out", &out}}) {
    check_float(op, arg, *t);
    check_same_device(op, "query", query, arg, *t);
    check_same_dtype(op, "query", query, arg, *t);
    TORCH_CHECK(t->sizes().equals(out_shape), op, ": expected ", arg, " of shape ",
                at::IntArrayRef(out_shape), " but got ", t->sizes());
  }
  check_float(op, "lse", lse);
  check_same_device(op, "query", query, "lse", lse);
  TORCH_CHECK(lse.scalar_type() == lse_dtype, op, ": expected lse of dtype ", lse_dtype, " but got ",
              lse.scalar_type());
  TORCH_CHECK(lse.numel() == g.items * g.L, op, ": expected lse with ", g.items * g.L,
              " elements (one per query row) but got shape ", lse.sizes());
}

}  // namespace torchext
