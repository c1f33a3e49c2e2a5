// The sum and mean reductions (CPU): all elements or any set of dims, keepdim, and an
// accumulation dtype. The mean is the sum divided by the count, as native.
//
// The input dims are put in memory order and merged where possible; then the innermost dim decides
// the loop. Innermost reduced: each output sums runs along it (contiguous runs get the
// multi-lane cascade). Innermost kept: each output row is the cascade sum of input rows, added
// as whole vectorizable rows (the bias-gradient case, [N, F] over dim 0). Either way, when there
// are too few outputs to occupy the threads, the reduction itself is split and the partial sums
// combined.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <algorithm>
#include <optional>
#include <vector>

#include "../common.h"
#include "../reduce_args.h"
#include "elementwise_dispatch.h"
#include "elementwise_operands.h"
#include "reduce_dispatch.h"

namespace torchext::cpu {
namespace {

// The input dims of size > 1 in memory order (largest input stride first), with each one's stride
// in the output (0 for reduced dims), neighbours of one kind merged where both input and output
// step over them linearly.
std::vector<ReduceDim> reduction_dims(const at::Tensor& x, const std::vector<bool>& reduced, const at::Tensor& out,
                       bool keepdim) {
  std::vector<ReduceDim> dims;
  int64_t out_dim = 0;
  for (int64_t d = 0; d < x.dim(); ++d) {
    const bool r = reduced[d];
    const int64_t out_stride = r ? 0 : out.stride(out_dim);
    if (!r || keepdim) ++out_dim;
    if (x.size(d) != 1) dims.push_back({x.size(d), x.stride(d), out_stride, r});
  }
  std::stable_sort(dims.begin(), dims.end(),
                   [](const ReduceDim& a, const ReduceDim& b) { return a.in_stride > b.in_stride; });
  std::vector<ReduceDim> merged;
  for (const auto& d : dims) {
    if (!merged.empty()) {
      auto& p = merged.back();
      if (p.reduced == d.reduced && p.in_stride == d.in_stride * d.size &&
          p.out_stride == d.out_stride * d.size) {
        p.size *= d.size;
        p.in_stride = d.in_stride;
        p.out_stride = d.out_stride;
        continue;
      }
    }
    merged.push_back(d);
  }
  return merged;
}

template <typename T>
void sum_kernel(const at::Tensor& x, const std::vector<bool>& reduced, bool keepdim, at::Tensor& out) {
  const std::vector<ReduceDim> dims = reduction_dims(x, reduced, out, keepdim);
  const bool any_reduced =
      std::any_of(dims.begin(), dims.end(), [](const ReduceDim& d) { return d.reduced; });
  if (!any_reduced) {  // every reduced dim has size 1: each output is one input element
    out.copy_(x.reshape(out.sizes()));
    return;
  }
  cpu_kernel<SumKernel, T>()(x.const_data_ptr<T>(), out.mutable_data_ptr<T>(), dims.data(),
                             static_cast<int64_t>(dims.size()));
}

// The sum of self over `dim` in out_dtype (op names the caller in errors).
at::Tensor reduce_sum(const char* op, const at::Tensor& self, at::OptionalIntArrayRef dim, bool keepdim,
                      std::optional<at::ScalarType> dtype) {
  check_float(op, "self", self);
  const auto out_dtype = dtype.value_or(self.scalar_type());
  TORCH_CHECK(is_supported_cpu_dtype(out_dtype), op, ": expected dtype to be float32 or float64 but got ",
              out_dtype);
  const auto reduced = reduced_dims(op, self, dim);
  std::vector<int64_t> out_shape;
  for (int64_t d = 0; d < self.dim(); ++d) {
    if (!reduced[d]) {
      out_shape.push_back(self.size(d));
    } else if (keepdim) {
      out_shape.push_back(1);
    }
  }
  auto x = self.to(out_dtype);
  auto out = at::empty(out_shape, x.options());
  if (out.numel() == 0) return out;
  if (x.numel() == 0) return out.zero_();  // the sum over nothing
  AT_DISPATCH_FLOATING_TYPES(out_dtype, "torchext_sum", [&] {
    sum_kernel<scalar_t>(x, reduced, keepdim, out);
  });
  return out;
}

at::Tensor sum_cpu(const at::Tensor& self, at::OptionalIntArrayRef dim, bool keepdim,
                   std::optional<at::ScalarType> dtype) {
  return reduce_sum("torchext.sum", self, dim, keepdim, dtype);
}

// sum / count (true division: an empty mean is 0 / 0 = NaN, as native).
at::Tensor mean_cpu(const at::Tensor& self, at::OptionalIntArrayRef dim, bool keepdim,
                    std::optional<at::ScalarType> dtype) {
  const auto sum = reduce_sum("torchext.mean", self, dim, keepdim, dtype);
  const int64_t count = sum.numel() == 0 ? 0 : self.numel() / sum.numel();
  auto out = at::empty(sum.sizes(), sum.options());
  AT_DISPATCH_FLOATING_TYPES(sum.scalar_type(), "torchext_mean", [&] {
    elementwise<ScalarKernel, scalar_t, 1>(out, {sum}, ScalarOp::kDiv, static_cast<scalar_t>(count),
                                           scalar_t(1));
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CPU, m) {
  m.impl("sum", &sum_cpu);
  m.impl("mean", &mean_cpu);
}

}  // namespace torchext::cpu
