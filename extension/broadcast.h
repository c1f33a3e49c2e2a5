// Broadcasting rules shared by the elementwise and loss kernels of every backend: the broadcast
// shape of named operands, broadcastability to a given shape, device compatibility and the
// float32/float64 result type.
#pragma once
#include <ATen/ATen.h>

#include <initializer_list>
#include <utility>
#include <vector>

#include "common.h"

namespace torchext {

using NamedTensor = std::pair<const char*, const at::Tensor*>;

// The broadcast shape of the operands (numpy rules, aligned at the trailing dims). A conflict names
// both operands and the dim of the result: "torchext.add: the size of tensor self (3) must match the
// size of tensor other (4) at non-singleton dimension 1".
inline std::vector<int64_t> broadcast_shape(const char* op, std::initializer_list<NamedTensor> operands) {
  int64_t ndim = 0;
  for (const auto& named : operands) ndim = std::max(ndim, named.second->dim());
  std::vector<int64_t> shape(ndim, 1);
  std::vector<const char*> owner(ndim, nullptr);  // which operand set each dim's size
  for (const auto& [name, tensor] : operands) {
    const int64_t lead = ndim - tensor->dim();
    for (int64_t d = 0; d < tensor->dim(); ++d) {
      const int64_t size = tensor->size(d);
      int64_t& out = shape[lead + d];
      if (size == out || size == 1) continue;
      TORCH_CHECK(out == 1, op, ": the size of tensor ", owner[lead + d], " (", out,
                  ") must match the size of tensor ", name, " (", size, ") at non-singleton dimension ",
                  lead + d);
      out = size;
      owner[lead + d] = name;
    }
  }
  return shape;
}

// `tensor` broadcasts to `shape` without growing it (as an in-place op would need).
inline void check_broadcastable_to(const char* op, const char* arg, const at::Tensor& tensor,
                                   at::IntArrayRef shape, const char* shape_name) {
  bool ok = tensor.dim() <= static_cast<int64_t>(shape.size());
  const int64_t lead = static_cast<int64_t>(shape.size()) - tensor.dim();
  for (int64_t d = 0; ok && d < tensor.dim(); ++d) {
    ok = tensor.size(d) == 1 || tensor.size(d) == shape[lead + d];
  }
  TORCH_CHECK(ok, op, ": expected ", arg, " of shape ", tensor.sizes(),
              " to be broadcastable to the ", shape_name, " shape ", shape);
}

// Operands must share a device, except that a 0-dim CPU tensor may join tensors on any device
// (as native elementwise ops allow).
inline void check_compatible_devices(const char* op, const char* arg_a, const at::Tensor& a,
                                     const char* arg_b, const at::Tensor& b) {
  auto cpu_scalar = [](const at::Tensor& t) { return t.dim() == 0 && t.device().is_cpu(); };
  if (cpu_scalar(a) || cpu_scalar(b)) return;
  check_same_device(op, arg_a, a, arg_b, b);
}

// A Scalar argument that must be a real number (bool, integer or floating).
inline void check_real_scalar(const char* op, const char* arg, const at::Scalar& value) {
  TORCH_CHECK(!value.isComplex(), op, ": expected ", arg, " to be a real number but got ", value);
}

}  // namespace torchext
