// Argument checks for the fused multi-tensor SGD step (sgd_step_), shared by the CPU and CUDA
// host code, and the working tensors both backends' kernels walk.
#pragma once
#include <ATen/ATen.h>

#include <cstddef>
#include <vector>

#include "common.h"

namespace torchext {

namespace sgd_detail {

constexpr const char* kOp = "torchext.sgd_step_";

// Every tensor of the lists: floating, and of params[0]'s dtype and device.
inline void check_tensor(const at::Tensor& t, const char* list, size_t i, const at::Tensor& p) {
  check_float(kOp, list, t);
  TORCH_CHECK(t.scalar_type() == p.scalar_type() && t.device() == p.device(), kOp, ": expected ",
              list, "[", i, "] to be ", p.scalar_type(), " on ", p.device(),
              " like params[0], but got ", t.scalar_type(), " on ", t.device());
}

}  // namespace sgd_detail

// The lists (grads and, with momentum, momentum_buffers: one per param, of its shape) and the
// hyperparameters that must agree with each other.
inline void check_sgd_step_args(at::TensorList params, at::TensorList grads, at::TensorList bufs,
                                double momentum, double dampening, bool nesterov) {
  using sgd_detail::check_tensor;
  using sgd_detail::kOp;
  const bool use_momentum = momentum != 0;
  TORCH_CHECK(grads.size() == params.size(), kOp, ": expected as many grads as params, but got ",
              grads.size(), " grads for ", params.size(), " params");
  if (use_momentum) {
    TORCH_CHECK(bufs.size() == params.size(), kOp, ": expected as many momentum_buffers as params",
                " when momentum != 0, but got ", bufs.size(), " buffers for ", params.size(),
                " params");
  } else {
    TORCH_CHECK(bufs.empty(), kOp, ": expected momentum_buffers to be empty when momentum is 0, ",
                "but got ", bufs.size(), " buffers");
  }
  for (size_t i = 0; i < params.size(); ++i) {
    const auto& p = params[i];
    check_tensor(p, "params", i, params[0]);
    check_tensor(grads[i], "grads", i, params[0]);
    TORCH_CHECK(grads[i].sizes() == p.sizes(), kOp, ": expected grads[", i, "] of shape ",
                p.sizes(), " (its param's) but got ", grads[i].sizes());
    if (use_momentum) {
      check_tensor(bufs[i], "momentum_buffers", i, params[0]);
      TORCH_CHECK(bufs[i].sizes() == p.sizes(), kOp, ": expected momentum_buffers[", i,
                  "] of shape ", p.sizes(), " (its param's) but got ", bufs[i].sizes());
    }
  }
  TORCH_CHECK(!nesterov || (momentum > 0 && dampening == 0), kOp,
              ": nesterov momentum requires a momentum and zero dampening, but got momentum=",
              momentum, " and dampening=", dampening);
}

// The memory a kernel may walk linearly: dense, and laid out like the parameter, so that the
// k-th element in memory of each tensor is the same logical element.
inline bool sgd_walks_like(const at::Tensor& t, const at::Tensor& param) {
  return t.is_non_overlapping_and_dense() && t.strides() == param.strides();
}

// What the kernel walks for each param: the tensors themselves where param, grad and buffer can
// be walked linearly together, otherwise contiguous copies, whose results write_back copies back
// after the step.
struct SgdWorkingSet {
  std::vector<at::Tensor> params, grads, bufs;  // bufs empty without momentum

  SgdWorkingSet(at::TensorList p, at::TensorList g, at::TensorList b, bool use_momentum)
      : params(p.size()), grads(p.size()), bufs(use_momentum ? p.size() : 0) {
    for (size_t i = 0; i < p.size(); ++i) {
      params[i] = p[i].is_non_overlapping_and_dense() ? p[i] : p[i].contiguous();
      const bool aligned = sgd_walks_like(g[i], params[i]) &&
                           (!use_momentum || sgd_walks_like(b[i], params[i]));
      if (!aligned) params[i] = p[i].contiguous();
      grads[i] = aligned ? g[i] : g[i].contiguous();
      if (use_momentum) bufs[i] = aligned ? b[i] : b[i].contiguous();
    }
  }

  // Data pointers per param (buffer pointers null without momentum).
  template <typename T>
  struct Pointers {
    std::vector<T*> params, bufs;
    std::vector<const T*> grads;
  };
  template <typename T>
  Pointers<T> pointers() const {
    Pointers<T> ptrs{std::vector<T*>(params.size()), std::vector<T*>(params.size(), nullptr),
                     std::vector<const T*>(params.size())};
    for (size_t i = 0; i < params.size(); ++i) {
      ptrs.params[i] = params[i].mutable_data_ptr<T>();
      ptrs.grads[i] = grads[i].const_data_ptr<T>();
      if (!bufs.empty()) ptrs.bufs[i] = bufs[i].mutable_data_ptr<T>();
    }
    return ptrs;
  }

  // Copies the stepped values of any working copies back into the caller's tensors.
  void write_back(at::TensorList p, at::TensorList b) const {
    for (size_t i = 0; i < params.size(); ++i) {
      if (!params[i].is_same(p[i])) p[i].copy_(params[i]);
      if (!bufs.empty() && !bufs[i].is_same(b[i])) b[i].copy_(bufs[i]);
    }
  }
};

}  // namespace torchext
