// Generic side of the elementwise kernels: the loop layout of tensors broadcast over an output
// shape, and the call of an elementwise kernel (dispatch.h) on them.
#pragma once
#include <ATen/ATen.h>

#include <array>

#include "broadcast_layout.h"
#include "dispatch.h"

namespace torchext::cpu {

// Lays the inputs over `shape`, which each of them must broadcast to.
template <size_t N>
BroadcastLayout<N> broadcast_layout(at::IntArrayRef shape, const std::array<at::Tensor, N>& inputs) {
  BroadcastLayout<N> layout;
  const int64_t ndim = static_cast<int64_t>(shape.size());
  for (int64_t d = 0; d < ndim; ++d) {
    layout.numel *= shape[d];
    if (shape[d] == 1) continue;
    std::array<int64_t, N> stride;
    for (size_t k = 0; k < N; ++k) {
      const int64_t kd = d - (ndim - inputs[k].dim());  // the input's own dim, if it has one
      stride[k] = (kd < 0 || inputs[k].size(kd) == 1) ? 0 : inputs[k].stride(kd);
    }
    // Merge into the previous dim when every input steps over this one linearly.
    bool merge = !layout.sizes.empty();
    for (size_t k = 0; merge && k < N; ++k) {
      merge = layout.strides[k].back() == stride[k] * shape[d];
    }
    if (merge) {
      layout.sizes.back() *= shape[d];
      for (size_t k = 0; k < N; ++k) layout.strides[k].back() = stride[k];
    } else {
      layout.sizes.push_back(shape[d]);
      for (size_t k = 0; k < N; ++k) layout.strides[k].push_back(stride[k]);
    }
  }
  return layout;
}

// Lays out the (already dtype-converted) inputs over out's shape (contiguous) and runs the
// elementwise kernel Kernel<T> on them: kernel(args..., layout, out, inputs).
template <template <typename> class Kernel, typename T, size_t N, typename... Args>
void elementwise(at::Tensor& out, const std::array<at::Tensor, N>& inputs, Args... args) {
  TORCH_INTERNAL_ASSERT(out.is_contiguous());
  const auto layout = broadcast_layout<N>(out.sizes(), inputs);
  std::array<const T*, N> ptrs;
  for (size_t k = 0; k < N; ++k) ptrs[k] = inputs[k].template const_data_ptr<T>();
  cpu_kernel<Kernel, T>()(args..., layout, out.mutable_data_ptr<T>(), ptrs);
}

}  // namespace torchext::cpu
