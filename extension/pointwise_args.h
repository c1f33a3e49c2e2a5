// Argument checks of the pointwise activations, shared by the CPU and CUDA host code. Only checks.
#pragma once
#include <ATen/ATen.h>

#include <initializer_list>
#include <string_view>
#include <utility>

#include "common.h"

namespace torchext {

// The operands of a backward (grad_output, saved; grad_grad first for a double backward): floating,
// on the device and of the dtype and shape of the last one (the saved tensor).
inline void check_pointwise_operands(
    const char* op, std::initializer_list<std::pair<const char*, const at::Tensor*>> operands) {
  const auto& [ref_name, ref] = *(operands.end() - 1);
  check_float(op, ref_name, *ref);
  for (const auto& [name, t] : operands) {
    if (t == ref) continue;
    check_float_on(op, name, *t, ref_name, *ref);
    check_same_dtype(op, name, *t, ref_name, *ref);
    TORCH_CHECK(t->sizes() == ref->sizes(), op, ": expected ", name, " of shape ", ref->sizes(),
                " (the shape of ", ref_name, ") but got ", t->sizes());
  }
}

inline void check_hardtanh_bounds(const char* op, double min_val, double max_val) {
  TORCH_CHECK(!(min_val > max_val), op, ": min_val cannot be greater than max_val (got min_val=",
              min_val, ", max_val=", max_val, ")");
}

// gelu's approximate: true for 'tanh', false for 'none'.
inline bool gelu_uses_tanh(const char* op, c10::string_view approximate) {
  TORCH_CHECK(approximate == "none" || approximate == "tanh", op,
              ": expected approximate to be 'none' or 'tanh' but got '", approximate, "'");
  return approximate == "tanh";
}

}  // namespace torchext
