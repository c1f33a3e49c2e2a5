// scaled_dot_product_attention's kernels (kernels/attention.cpp), dispatched to the capability in
// use (dispatch.h). Operands are addressed through AttentionGeometry; mask points to bool or T
// values (g.mask says which), null when there is none.
#pragma once
#include <cstdint>

#include "../attention_geometry.h"
#include "dispatch.h"

namespace torchext::cpu {

// out (items, L, Ev) contiguous; lse (items, L): the log of each row's softmax denominator plus
// its max (-inf for a row with every key masked, whose output is 0, as native's).
template <typename T>
struct AttentionKernel {
  using Fn = void(const AttentionGeometry& g, const T* q, const T* k, const T* v, const void* mask,
                  T* out, T* lse);
};

// From out, lse and grad_out (contiguous like out): dq (items, L, E), dk (kv_items, S, E),
// dv (kv_items, S, Ev), all contiguous, and, when dmask is not null, the scores' gradient
// (items, L, S) contiguous.
template <typename T>
struct AttentionBackwardKernel {
  using Fn = void(const AttentionGeometry& g, const T* q, const T* k, const T* v, const void* mask,
                  const T* out, const T* lse, const T* grad_out, T* dq, T* dk, T* dv, T* dmask);
};

}  // namespace torchext::cpu

TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::AttentionKernel);
TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::AttentionBackwardKernel);
