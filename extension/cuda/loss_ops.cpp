// binary_cross_entropy_with_logits and its backward (CUDA host side). Reductions: 0 none,
// 1 mean (the mean of nothing is nan, as native), 2 sum.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <optional>

#include "host_utils.h"
#include "loss.h"
#include "reduce_ops.h"

namespace torchext::cuda {
namespace {

constexpr int64_t kReductionNone = 0, kReductionMean = 1, kReductionSum = 2;

void check_bce_inputs(const char* op, const at::Tensor& self, const at::Tensor& target,
                      int64_t reduction) {
  check_float(op, "self", self);
  check_float_on(op, "target", target, "self", self);
  check_same_dtype(op, "self", self, "target", target);
  TORCH_CHECK(target.sizes() == self.sizes(), op, ": target size ", target.sizes(),
              " must be the same as input size ", self.sizes());
  TORCH_CHECK(reduction == kReductionNone || reduction == kReductionMean || reduction == kReductionSum,
              op, ": expected reduction to be 0 (none), 1 (mean) or 2 (sum) but got ", reduction);
}

// An optional operand broadcast to self's shape on self's device, or undefined when absent.
at::Tensor broadcast_operand(const char* op, const char* arg, const std::optional<at::Tensor>& t,
                             const at::Tensor& self) {
  if (!t.has_value() || !t->defined()) return at::Tensor();
  check_float(op, arg, *t);
  check_same_dtype(op, "self", self, arg, *t);
  check_broadcastable_to(op, arg, *t, self.sizes(), "input");
  return on_device_of(op, arg, *t, "self", self).expand(self.sizes());
}

template <typename T>
const T* data_or_null(const at::Tensor& t) {
  return t.defined() ? t.const_data_ptr<T>() : nullptr;
}

at::IntArrayRef strides_or(const at::Tensor& t, const std::vector<int64_t>& zeros) {
  return t.defined() ? t.strides() : at::IntArrayRef(zeros);
}

at::Tensor bce_with_logits_cuda(const at::Tensor& self, const at::Tensor& target,
                                const std::optional<at::Tensor>& weight,
                                const std::optional<at::Tensor>& pos_weight, int64_t reduction) {
  const char* op = "torchext.binary_cross_entropy_with_logits";
  check_bce_inputs(op, self, target, reduction);
  const auto w = broadcast_operand(op, "weight", weight, self);
  const auto p = broadcast_operand(op, "pos_weight", pos_weight, self);
  c10::cuda::CUDAGuard guard(self.device());
  const std::vector<int64_t> zeros(self.dim(), 0);
  const auto ix = make_indexer<4>(
      self.sizes(), {self.strides(), target.strides(), strides_or(w, zeros), strides_or(p, zeros)});
  auto loss = at::empty(self.sizes(), self.options());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, self.scalar_type(), "torchext_bce_with_logits", [&] {
    bce_with_logits_launch(self.const_data_ptr<scalar_t>(), target.const_data_ptr<scalar_t>(),
                           data_or_null<scalar_t>(w), data_or_null<scalar_t>(p),
                           loss.mutable_data_ptr<scalar_t>(), loss.numel(), ix);
  });
  if (reduction == kReductionNone) return loss;
  const double scale = reduction == kReductionMean ? 1.0 / static_cast<double>(loss.numel()) : 1.0;
  return reduce_sum(loss, {}, /*keepdim=*/false, scale);
}

std::tuple<at::Tensor, at::Tensor> bce_with_logits_backward_cuda(
    const at::Tensor& grad_output, const at::Tensor& self, const at::Tensor& target,
    const std::optional<at::Tensor>& weight, const std::optional<at::Tensor>& pos_weight,
    int64_t reduction, std::array<bool, 2> output_mask) {
  const char* op = "torchext.binary_cross_entropy_with_logits_backward";
  check_bce_inputs(op, self, target, reduction);
  check_float(op, "grad_output", grad_output);
  check_same_dtype(op, "self", self, "grad_output", grad_output);
  check_broadcastable_to(op, "grad_output", grad_output, self.sizes(), "input");
  const auto g = on_device_of(op, "grad_output", grad_output, "self", self).expand(self.sizes());
  const auto w = broadcast_operand(op, "weight", weight, self);
  const auto p = broadcast_operand(op, "pos_weight", pos_weight, self);
  c10::cuda::CUDAGuard guard(self.device());
  const std::vector<int64_t> zeros(self.dim(), 0);
  const auto ix = make_indexer<5>(self.sizes(), {g.strides(), self.strides(), target.strides(),
                                                 strides_or(w, zeros), strides_or(p, zeros)});
  at::Tensor grad_self, grad_target;
  if (output_mask[0]) grad_self = at::empty(self.sizes(), self.options());
  if (output_mask[1]) grad_target = at::empty(self.sizes(), self.options());
  // A mean spreads the incoming gradient over every element.
  const double count = reduction == kReductionMean ? static_cast<double>(self.numel()) : 1.0;
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, self.scalar_type(), "torchext_bce_with_logits_backward", [&] {
    using T = scalar_t;
    bce_with_logits_backward_launch(
        g.const_data_ptr<T>(), self.const_data_ptr<T>(), target.const_data_ptr<T>(),
        data_or_null<T>(w), data_or_null<T>(p),
        grad_self.defined() ? grad_self.mutable_data_ptr<T>() : nullptr,
        grad_target.defined() ? grad_target.mutable_data_ptr<T>() : nullptr, self.numel(), ix, count);
  });
  return {grad_self, grad_target};
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CUDA, m) {
  m.impl("binary_cross_entropy_with_logits", &bce_with_logits_cuda);
  m.impl("binary_cross_entropy_with_logits_backward", &bce_with_logits_backward_cuda);
}

}  // namespace torchext::cuda
