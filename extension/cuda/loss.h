// Launchers of the binary_cross_entropy_with_logits CUDA kernels (loss.cu). Operands are read
// through an indexer over the input's shape (so weight, pos_weight and grad_output may broadcast);
// outputs are contiguous. An absent weight or pos_weight is a null pointer and stands for 1.
#pragma once
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cstdint>

#include "indexer.h"

namespace torchext::cuda {

// loss = weight * ((1 - target) * x - lw * log sigmoid(x)), lw = (pos_weight - 1) * target + 1.
// ix operands: 0 self, 1 target, 2 weight, 3 pos_weight.
template <typename T>
void bce_with_logits_launch(const T* self, const T* target, const T* weight, const T* pos_weight,
                            T* loss, int64_t n, const StridedIndexer<4>& ix);

// grad_self = (lw * sigmoid(x) - pos_weight * target) * g * weight / count,
// grad_target = ((pos_weight - 1) * -log sigmoid(x) - x) * g * weight / count;
// either output may be null (not wanted). ix operands: 0 grad_output, 1 self, 2 target, 3 weight,
// 4 pos_weight. count is the element count for a mean reduction, else 1.
template <typename T>
void bce_with_logits_backward_launch(const T* grad_output, const T* self, const T* target,
                                     const T* weight, const T* pos_weight, T* grad_self,
                                     T* grad_target, int64_t n, const StridedIndexer<5>& ix,
                                     double count);

}  // namespace torchext::cuda
