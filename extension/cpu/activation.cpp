// relu, in-place relu, the relu backward and the fused residual add+relu (CPU).
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include "../common.h"
#include "loops.h"

namespace torchext::cpu {
namespace {

template <typename T>
void relu_kernel(const T* __restrict__ in, T* __restrict__ out, int64_t n) {
  parallel_chunks(n, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      T x = in[i];
      // NaN propagates, as native: (NaN > 0) is false but x != x keeps it.
      out[i] = (x > T(0) || x != x) ? x : T(0);
    }
  });
}

at::Tensor relu_cpu(const at::Tensor& self) {
  check_float("torchext.relu", "self", self);
  auto x = self.contiguous();
  auto out = at::empty_like(x);
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "torchext_relu", [&] {
    relu_kernel(x.const_data_ptr<scalar_t>(), out.mutable_data_ptr<scalar_t>(), x.numel());
  });
  return out;
}

void relu__cpu(at::Tensor& self) {
  check_float("torchext.relu_", "self", self);
  if (self.is_contiguous()) {
    AT_DISPATCH_FLOATING_TYPES(self.scalar_type(), "torchext_relu_", [&] {
      relu_kernel(self.const_data_ptr<scalar_t>(), self.mutable_data_ptr<scalar_t>(), self.numel());
    });
  } else {
    self.copy_(relu_cpu(self));
  }
}

at::Tensor relu_backward_cpu(const at::Tensor& grad_output, const at::Tensor& result) {
  const char* op = "torchext.relu_backward";
  check_float(op, "grad_output", grad_output);
  check_float(op, "result", result);
  check_same_dtype(op, "grad_output", grad_output, "result", result);
  TORCH_CHECK(grad_output.sizes() == result.sizes(), op, ": expected grad_output of shape ",
              result.sizes(), " but got ", grad_output.sizes());
  auto g = grad_output.contiguous();
  auto r = result.contiguous();
  auto out = at::empty_like(r);
  AT_DISPATCH_FLOATING_TYPES(r.scalar_type(), "torchext_relu_backward", [&] {
    const scalar_t* __restrict__ gp = g.const_data_ptr<scalar_t>();
    const scalar_t* __restrict__ rp = r.const_data_ptr<scalar_t>();
    scalar_t* __restrict__ op_ = out.mutable_data_ptr<scalar_t>();
    parallel_chunks(r.numel(), [&](int64_t b, int64_t e) {
      // Zero where result <= 0 (as native's threshold_backward), so a NaN result passes grad.
      // Both loads are unconditional so the select vectorizes instead of branching per element.
      for (int64_t i = b; i < e; ++i) {
        const scalar_t grad = gp[i];
        op_[i] = rp[i] <= scalar_t(0) ? scalar_t(0) : grad;
      }
    });
  });
  return out;
}

at::Tensor add_relu_cpu(const at::Tensor& self, const at::Tensor& other) {
  const char* op = "torchext.add_relu";
  check_float(op, "self", self);
  check_float(op, "other", other);
  check_same_dtype(op, "self", self, "other", other);
  TORCH_CHECK(self.sizes() == other.sizes(), op, ": expected other of shape ", self.sizes(),
              " (the residual must match the block output) but got ", other.sizes());
  auto a = self.contiguous();
  auto b = other.contiguous();
  auto out = at::empty_like(a);
  AT_DISPATCH_FLOATING_TYPES(a.scalar_type(), "torchext_add_relu", [&] {
    const scalar_t* __restrict__ ap = a.const_data_ptr<scalar_t>();
    const scalar_t* __restrict__ bp = b.const_data_ptr<scalar_t>();
    scalar_t* __restrict__ o = out.mutable_data_ptr<scalar_t>();
    parallel_chunks(a.numel(), [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) {
        scalar_t s = ap[i] + bp[i];
        o[i] = (s > scalar_t(0) || s != s) ? s : scalar_t(0);
      }
    });
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CPU, m) {
  m.impl("relu", &relu_cpu);
  m.impl("relu_", &relu__cpu);
  m.impl("relu_backward", &relu_backward_cpu);
  m.impl("add_relu", &add_relu_cpu);
}

}  // namespace torchext::cpu
