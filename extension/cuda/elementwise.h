// Launchers of the elementwise CUDA kernels (elementwise.cu). Outputs are contiguous; kernels run
// on the current stream.
#pragma once
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cstdint>

#include "indexer.h"

namespace torchext::cuda {

// Add: a + alpha * b (sub passes -alpha); Mul: a * b.
enum class BinaryOp { Add, Mul };

// out[i] = op(a, b) for the n elements of the broadcast shape; ix maps an output index to the
// offsets of a (operand 0) and b (operand 1).
template <typename T>
void binary_launch(BinaryOp op, const T* a, const T* b, T* out, int64_t n,
                   const StridedIndexer<2>& ix, double alpha);

// With a scalar s = other: Add: x + alpha*s; RSub: s - alpha*x; Mul: x * s; Pow: x ** s.
enum class ScalarOp { Add, RSub, Mul, Pow };

// out[i] = op(in[i], other) over n contiguous elements (alpha is used by Add and RSub only).
template <typename T>
void scalar_op_launch(ScalarOp op, const T* in, T* out, int64_t n, double other, double alpha);

}  // namespace torchext::cuda
