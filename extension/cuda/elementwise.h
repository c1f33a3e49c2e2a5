// Launchers of the elementwise CUDA kernels (elementwise.cu). Outputs are contiguous; kernels run
// on the current stream.
#pragma once
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cstdint>

#include "indexer.h"

namespace torchext::cuda {

// Add: a + alpha * b (sub passes -alpha); Mul: a * b; Div: a / b; Pow: a ** b.
enum class BinaryOp { Add, Mul, Div, Pow };

// out[i] = op(a, b) for the n elements of the broadcast shape; ix maps an output index to the
// offsets of a (operand 0) and b (operand 1).
template <typename T>
void binary_launch(BinaryOp op, const T* a, const T* b, T* out, int64_t n,
                   const StridedIndexer<2>& ix, double alpha);

// With a scalar s = other: Add: x + alpha*s; RSub: s - alpha*x; Mul: x * s; Pow: x ** s;
// Div: x / s; RDiv: s / x.
enum class ScalarOp { Add, RSub, Mul, Pow, Div, RDiv };

// out[i] = op(in[i], other) over n contiguous elements (alpha is used by Add and RSub only).
template <typename T>
void scalar_op_launch(ScalarOp op, const T* in, T* out, int64_t n, double other, double alpha);

// One gradient of pow(self, exponent) over n elements of the broadcast shape, as native; ix maps
// an output index to the offsets of grad (operand 0), self, exponent and `fourth` (3). For self
// (exponent_grad false; fourth = exponent - 1): 0 where exponent == 0, else grad * exponent *
// self ** (exponent - 1); for exponent (fourth = result): grad * (0 where self == 0 and
// exponent >= 0, else result * log(self)).
template <typename T>
void pow_backward_launch(bool exponent_grad, const T* grad, const T* self, const T* exponent,
                         const T* fourth, T* out, int64_t n, const StridedIndexer<4>& ix);

}  // namespace torchext::cuda
