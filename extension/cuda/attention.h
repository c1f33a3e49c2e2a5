// Launchers of the scaled_dot_product_attention CUDA kernels (attention.cu). Operands are
// addressed through AttentionGeometry; mask points to bool or T values (g.mask says which), null
// when there is none; lse is in the accumulate type.
#pragma once
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cstdint>

#include "../attention_geometry.h"
#include "acc_type.h"

namespace torchext::cuda {

// out (items, L, Ev) contiguous; lse (items, L): -inf for a row with every key masked (output 0).
template <typename T>
void attention_launch(const AttentionGeometry& g, const T* q, const T* k, const T* v, const void* mask, T* out,
                      acc_t<T>* lse);

// dq (items, L, E), dk (kv_items, S, E), dv (kv_items, S, Ev) contiguous; dmask (items, L, S) when
// not null.
template <typename T>
void attention_backward_launch(const AttentionGeometry& g, const T* q, const T* k, const T* v, const void* mask,
                               const T* out, const acc_t<T>* lse, const T* grad_out, T* dq, T* dk, T* dv,
                               T* dmask);

}  // namespace torchext::cuda
