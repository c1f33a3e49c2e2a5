// binary_cross_entropy_with_logits and its backward (CPU): checks, allocation and the reduction;
// the elementwise formulas below are kernels/loss.cpp.
//
// With lw = (pos_weight - 1) * target + 1 and log sigmoid(x) = min(x, 0) - log1p(exp(-|x|)) (finite
// for any |x|):
//   loss           = weight * ((1 - target) * x - lw * log sigmoid(x))
//   d loss/dx      = weight * (lw * sigmoid(x) - pos_weight * target)
//   d loss/dtarget = weight * ((pos_weight - 1) * softplus(-x) - x),  softplus(-x) = -log sigmoid(x)
// (d/dx of -log sigmoid(x) is sigmoid(x) - 1; d lw/dtarget = pos_weight - 1.) An absent weight or
// pos_weight is 1, which makes these sigmoid(x) - target and -x. Reduction 1 (mean) divides by the
// number of elements, 2 sums, 0 keeps the elementwise loss.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <optional>

#include "../broadcast.h"
#include "../common.h"
#include "elementwise_operands.h"
#include "loss_dispatch.h"
#include "reduce_dispatch.h"

namespace torchext::cpu {
namespace {

constexpr int64_t kReductionNone = 0, kReductionMean = 1, kReductionSum = 2;

// Checks the operands and returns weight and pos_weight in self's dtype, with 0-dim ones standing
// in for absent ones.
std::pair<at::Tensor, at::Tensor> check_bce_operands(const char* op, const at::Tensor& self,
                                                     const at::Tensor& target,
                                                     const std::optional<at::Tensor>& weight,
                                                     const std::optional<at::Tensor>& pos_weight,
                                                     int64_t reduction) {
  check_float(op, "self", self);
  check_float(op, "target", target);
  check_same_dtype(op, "self", self, "target", target);
  check_same_device(op, "self", self, "target", target);
  TORCH_CHECK(target.sizes() == self.sizes(), op, ": target size ", target.sizes(),
              " must be the same as input size ", self.sizes());
  TORCH_CHECK(reduction == kReductionNone || reduction == kReductionMean || reduction == kReductionSum,
              op, ": expected reduction to be 0 (none), 1 (mean) or 2 (sum) but got ", reduction);
  auto optional_factor = [&](const char* arg, const std::optional<at::Tensor>& t) {
    if (!t.has_value() || !t->defined()) return at::empty({}, self.options()).fill_(1);
    check_float(op, arg, *t);
    check_same_dtype(op, "self", self, arg, *t);
    check_compatible_devices(op, "self", self, arg, *t);
    check_broadcastable_to(op, arg, *t, self.sizes(), "input");
    return *t;
  };
  return {optional_factor("weight", weight), optional_factor("pos_weight", pos_weight)};
}

at::Tensor bce_with_logits_cpu(const at::Tensor& self, const at::Tensor& target,
                               const std::optional<at::Tensor>& weight,
                               const std::optional<at::Tensor>& pos_weight, int64_t reduction) {
  const char* op = "torchext.binary_cross_entropy_with_logits";
  auto [w, p] = check_bce_operands(op, self, target, weight, pos_weight, reduction);
  auto loss = at::empty(self.sizes(), self.options());
  AT_DISPATCH_FLOATING_TYPES(self.scalar_type(), "torchext_bce_with_logits", [&] {
    elementwise<BceLossKernel, scalar_t, 4>(loss, {self, target, w, p});
  });
  if (reduction == kReductionNone) return loss;
  auto out = at::empty({}, self.options());
  AT_DISPATCH_FLOATING_TYPES(self.scalar_type(), "torchext_bce_with_logits_reduce", [&] {
    const int64_t n = loss.numel();
    const scalar_t total =
        cpu_kernel<SumContiguousKernel, scalar_t>()(loss.const_data_ptr<scalar_t>(), n);
    // The mean of nothing is nan (0/0), as native.
    out.fill_(reduction == kReductionMean ? total / static_cast<scalar_t>(n) : total);
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor> bce_with_logits_backward_cpu(
    const at::Tensor& grad_output, const at::Tensor& self, const at::Tensor& target,
    const std::optional<at::Tensor>& weight, const std::optional<at::Tensor>& pos_weight,
    int64_t reduction, std::array<bool, 2> output_mask) {
  const char* op = "torchext.binary_cross_entropy_with_logits_backward";
  auto [w, p] = check_bce_operands(op, self, target, weight, pos_weight, reduction);
  check_float(op, "grad_output", grad_output);
  check_same_dtype(op, "self", self, "grad_output", grad_output);
  check_compatible_devices(op, "self", self, "grad_output", grad_output);
  check_broadcastable_to(op, "grad_output", grad_output, self.sizes(), "input");
  at::Tensor grad_self, grad_target;
  AT_DISPATCH_FLOATING_TYPES(self.scalar_type(), "torchext_bce_with_logits_backward", [&] {
    using T = scalar_t;
    // Mean spreads the incoming gradient over every element.
    const T n = reduction == kReductionMean ? static_cast<T>(self.numel()) : T(1);
    if (output_mask[0]) {
      grad_self = at::empty(self.sizes(), self.options());
      elementwise<BceGradKernel, T, 5>(grad_self, {grad_output, self, target, w, p}, false, n);
    }
    if (output_mask[1]) {
      grad_target = at::empty(self.sizes(), self.options());
      elementwise<BceGradKernel, T, 5>(grad_target, {grad_output, self, target, w, p}, true, n);
    }
  });
  return {grad_self, grad_target};
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CPU, m) {
  m.impl("binary_cross_entropy_with_logits", &bce_with_logits_cpu);
  m.impl("binary_cross_entropy_with_logits_backward", &bce_with_logits_backward_cpu);
}

}  // namespace torchext::cpu
