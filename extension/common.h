// Shared argument checks for torchext kernels: every message names the op and the argument.
#pragma once
#include <ATen/ATen.h>

namespace torchext {

inline bool is_supported_cpu_dtype(at::ScalarType t) {
  return t == at::kFloat || t == at::kDouble;
}

inline bool is_supported_cuda_dtype(at::ScalarType t) {
  return t == at::kFloat || t == at::kDouble || t == at::kHalf || t == at::kBFloat16;
}

// A floating tensor of a dtype this backend computes in.
inline void check_float(const char* op, const char* arg, const at::Tensor& t) {
  TORCH_CHECK(t.defined(), op, ": expected ", arg, " to be a tensor, got None");
  bool ok = t.is_cuda() ? is_supported_cuda_dtype(t.scalar_type())
                        : is_supported_cpu_dtype(t.scalar_type());
  TORCH_CHECK(ok, op, ": expected ", arg, " to be ",
              t.is_cuda() ? "float16, bfloat16, float32 or float64" : "float32 or float64",
              " but got ", t.scalar_type());
}

inline void check_dim(const char* op, const char* arg, const at::Tensor& t, int64_t dim) {
  TORCH_CHECK(t.dim() == dim, op, ": expected ", arg, " to be ", dim, "-D but got a ", t.dim(),
              "-D tensor of shape ", t.sizes());
}

inline void check_same_device(const char* op, const char* arg_a, const at::Tensor& a,
                              const char* arg_b, const at::Tensor& b) {
  TORCH_CHECK(a.device() == b.device(), op, ": expected ", arg_a, " and ", arg_b,
              " on the same device, but ", arg_a, " is on ", a.device(), " and ", arg_b, " is on ",
              b.device());
}

// check_float plus: on the same device as `ref` (the argument that selected this kernel).
inline void check_float_on(const char* op, const char* arg, const at::Tensor& t,
                           const char* ref_arg, const at::Tensor& ref) {
  check_float(op, arg, t);
  check_same_device(op, ref_arg, ref, arg, t);
}

inline void check_same_dtype(const char* op, const char* arg_a, const at::Tensor& a,
                             const char* arg_b, const at::Tensor& b) {
  TORCH_CHECK(a.scalar_type() == b.scalar_type(), op, ": expected ", arg_a, " and ", arg_b,
              " to have the same dtype, but got ", a.scalar_type(), " and ", b.scalar_type());
}

}  // namespace torchext
