// Argument checks and the output's shape, dtype and memory format for cat (torch.cat's
// semantics), shared by the CPU and CUDA host code. Only checks and size arithmetic.
#pragma once
#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

#include "common.h"

namespace torchext {

struct CatPlan {
  int64_t dim = 0;                // wrapped
  std::vector<int64_t> shape;     // of the output
  at::ScalarType dtype;           // float32/float64 promotion over every tensor
  at::MemoryFormat format;        // the inputs' common suggested format, else contiguous
  std::vector<bool> skipped;      // legacy 1-D empty tensors, which take no part in the shape
};

// A legacy 1-D empty tensor: native skips it whatever the others' shapes.
inline bool cat_skipped(const at::Tensor& t) { return t.dim() == 1 && t.size(0) == 0; }

inline CatPlan cat_args(const char* op, at::TensorList tensors, int64_t dim) {
  TORCH_CHECK(!tensors.empty(), op, ": expected a non-empty list of Tensors");
  CatPlan plan;
  const at::Tensor* ref = nullptr;
  for (size_t i = 0; i < tensors.size(); ++i) {
    const at::Tensor& t = tensors[i];
    const std::string name = "tensors[" + std::to_string(i) + "]";
    check_float(op, name.c_str(), t);
    check_same_device(op, "tensors[0]", tensors[0], name.c_str(), t);
    TORCH_CHECK(t.dim() > 0, op, ": zero-dimensional tensor (at position ", i, ") cannot be concatenated");
    plan.dtype = i == 0 ? t.scalar_type() : at::promote_types(plan.dtype, t.scalar_type());
    plan.skipped.push_back(cat_skipped(t));
    if (!ref && !plan.skipped.back()) ref = &t;
  }
  // The memory format: the one every tensor suggests, else contiguous (as native).
  plan.format = tensors[0].suggest_memory_format();
  for (const auto& t : tensors) {
    if (t.suggest_memory_format() != plan.format) plan.format = at::MemoryFormat::Contiguous;
  }
  if (!ref) {  // only legacy empty tensors: the result is one of them
    plan.shape = {0};
    plan.format = at::MemoryFormat::Contiguous;
    return plan;
  }
  const int64_t ndim = ref->dim();
  TORCH_CHECK_INDEX(dim >= -ndim && dim < ndim, op, ": dimension out of range (expected to be in range of [",
                    -ndim, ", ", ndim - 1, "], but got ", dim, ")");
  plan.dim = dim < 0 ? dim + ndim : dim;
  plan.shape = ref->sizes().vec();
  plan.shape[plan.dim] = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (plan.skipped[i]) continue;
    const at::Tensor& t = tensors[i];
    TORCH_CHECK(t.dim() == ndim, op, ": tensors must have the same number of dimensions: got ", ndim,
                " and ", t.dim(), " (tensors[", i, "])");
    for (int64_t d = 0; d < ndim; ++d) {
      TORCH_CHECK(d == plan.dim || t.size(d) == ref->size(d), op,
                  ": sizes of tensors must match except in dimension ", plan.dim, ". Expected size ",
                  ref->size(d), " but got size ", t.size(d), " for tensor number ", i, " in the list (tensors[",
                  i, "])");
    }
    int64_t grown;
    TORCH_CHECK(!__builtin_add_overflow(plan.shape[plan.dim], t.size(plan.dim), &grown), op,
                ": the concatenated size overflows int64");
    plan.shape[plan.dim] = grown;
  }
  return plan;
}

}  // namespace torchext
