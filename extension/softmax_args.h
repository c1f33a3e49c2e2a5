// Argument checks for softmax/log_softmax and their backward, shared by the CPU and CUDA host
// code, and the (outer, N, inner) split of a contiguous tensor around the reduced dim.
#pragma once
#include <ATen/ATen.h>

#include <optional>

#include "common.h"

namespace torchext {

struct SoftmaxSplit {
  int64_t dim, outer, N, inner;
};

inline SoftmaxSplit softmax_split(const char* op, const at::Tensor& t, int64_t dim) {
  const int64_t rank = std::max<int64_t>(t.dim(), 1);
  TORCH_CHECK_INDEX(dim >= -rank && dim < rank, op, ": expected dim in [", -rank, ", ", rank - 1,
              "] but got ", dim);
  if (dim < 0) dim += rank;
  SoftmaxSplit s{dim, 1, t.dim() == 0 ? 1 : t.size(dim), 1};
  for (int64_t d = 0; d < dim; ++d) s.outer *= t.size(d);
  for (int64_t d = dim + 1; d < t.dim(); ++d) s.inner *= t.size(d);
  return s;
}

// The dtype the op computes and returns in: dtype if given (a dtype this backend computes in),
// else self's.
inline at::ScalarType softmax_dtype(const char* op, const at::Tensor& self,
                                    std::optional<at::ScalarType> dtype) {
  check_float(op, "self", self);
  if (!dtype.has_value()) return self.scalar_type();
  const bool ok = self.is_cuda() ? is_supported_cuda_dtype(*dtype) : is_supported_cpu_dtype(*dtype);
  TORCH_CHECK(ok, op, ": expected dtype to be ",
              self.is_cuda() ? "float16, bfloat16, float32 or float64" : "float32 or float64",
              " but got ", *dtype);
  return *dtype;
}

// grad_output and output: one dtype and shape; the input gradient is returned in input_dtype.
inline SoftmaxSplit check_softmax_backward(const char* op, const at::Tensor& grad_output,
                                           const at::Tensor& output, int64_t dim,
                                           at::ScalarType input_dtype) {
  check_float(op, "grad_output", grad_output);
  check_float(op, "output", output);
  check_same_device(op, "output", output, "grad_output", grad_output);
  check_same_dtype(op, "output", output, "grad_output", grad_output);
  TORCH_CHECK(grad_output.sizes() == output.sizes(), op, ": expected grad_output of shape ",
              output.sizes(), " (the output's) but got ", grad_output.sizes());
  const bool ok = output.is_cuda() ? is_supported_cuda_dtype(input_dtype) : is_supported_cpu_dtype(input_dtype);
  TORCH_CHECK(ok, op, ": expected input_dtype to be a floating dtype this device computes in but got ",
              input_dtype);
  return softmax_split(op, output, dim);
}

}  // namespace torchext
