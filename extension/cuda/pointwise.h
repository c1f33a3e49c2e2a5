// Launchers of the pointwise activations' CUDA kernels (pointwise.cu): any functor of
// ../pointwise_functors.h (Op<acc_t<T>>) over operands of n elements, on the current stream.
// With flat, every operand and out are read in memory order (dense, same strides); otherwise ix
// maps the contiguous output's index to each operand's offset.
#pragma once
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cstdint>

#include "../pointwise_functors.h"
#include "indexer.h"

namespace torchext::cuda {

// out = op.forward(in); out may be in (in place, flat).
template <typename T, typename Op>
void pointwise_forward_launch(const Op& op, const T* in, T* out, int64_t n, bool flat,
                              const StridedIndexer<1>& ix);

// out = op.backward(grad, saved).
template <typename T, typename Op>
void pointwise_backward_launch(const Op& op, const T* grad, const T* saved, T* out, int64_t n,
                               bool flat, const StridedIndexer<2>& ix);

// out = op.double_backward(grad_grad, grad, saved).
template <typename T, typename Op>
void pointwise_double_backward_launch(const Op& op, const T* grad_grad, const T* grad,
                                      const T* saved, T* out, int64_t n, bool flat,
                                      const StridedIndexer<3>& ix);

// saved = self, self = op.forward(self), over n contiguous elements.
template <typename T, typename Op>
void pointwise_forward_keep_launch(const Op& op, T* self, T* saved, int64_t n);

}  // namespace torchext::cuda
