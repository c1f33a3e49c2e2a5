// sum and mean over any dimensions with an optional output dtype (CUDA host side).
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <algorithm>
#include <optional>
#include <utility>
#include <vector>

#include "../reduce_args.h"
#include "host_utils.h"
#include "reduce.h"
#include "reduce_ops.h"

namespace torchext::cuda {

at::Tensor reduce_sum(const at::Tensor& x, at::IntArrayRef dims, bool keepdim, double scale) {
  std::vector<bool> reduced(x.dim(), dims.empty());
  for (int64_t d : dims) reduced[d] = true;
  std::vector<int64_t> kept_sizes, kept_strides, red_sizes, red_strides, out_shape;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (reduced[d]) {
      red_sizes.push_back(x.size(d));
      red_strides.push_back(x.stride(d));
      if (keepdim) out_shape.push_back(1);
    } else {
      kept_sizes.push_back(x.size(d));
      kept_strides.push_back(x.stride(d));
      out_shape.push_back(x.size(d));
    }
  }
  c10::cuda::CUDAGuard guard(x.device());
  auto result = at::empty(out_shape, x.options());  // the op's output is not a view
  auto out = result.view(kept_sizes);
  const auto kept = make_indexer<1>(kept_sizes, {kept_strides});
  const auto red = make_indexer<1>(red_sizes, {red_strides});
  const int64_t n_red = c10::multiply_integers(red_sizes);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "torchext_sum", [&] {
    sum_launch(x.const_data_ptr<scalar_t>(), out.mutable_data_ptr<scalar_t>(), kept, out.numel(),
               red, n_red, scale);
  });
  return result;
}

namespace {

// The input cast to dtype and the dims it reduces (all of them for an empty list).
std::pair<at::Tensor, std::vector<int64_t>> reduction_operand(const char* op, const at::Tensor& self,
                                                              at::OptionalIntArrayRef dim,
                                                              std::optional<at::ScalarType> dtype) {
  check_float(op, "self", self);
  if (dtype.has_value()) {
    TORCH_CHECK(is_supported_cuda_dtype(*dtype), op,
                ": expected dtype to be float16, bfloat16, float32 or float64 but got ", *dtype);
  }
  const std::vector<bool> reduced = reduced_dims(op, self, dim);
  std::vector<int64_t> dims;
  for (int64_t d = 0; d < self.dim(); ++d) {
    if (reduced[d]) dims.push_back(d);
  }
  return {dtype.has_value() ? self.to(*dtype) : self, dims};
}

at::Tensor sum_cuda(const at::Tensor& self, at::OptionalIntArrayRef dim, bool keepdim,
                    std::optional<at::ScalarType> dtype) {
  const auto [x, dims] = reduction_operand("torchext.sum", self, dim, dtype);
  return reduce_sum(x, dims, keepdim);
}

// The sum scaled by 1 / count in the accumulate type, as native's CUDA mean (an empty mean is
// 0 * inf = NaN).
at::Tensor mean_cuda(const at::Tensor& self, at::OptionalIntArrayRef dim, bool keepdim,
                     std::optional<at::ScalarType> dtype) {
  const auto [x, dims] = reduction_operand("torchext.mean", self, dim, dtype);
  int64_t count = 1;
  for (int64_t d = 0; d < x.dim(); ++d) {
    if (dims.empty() || std::find(dims.begin(), dims.end(), d) != dims.end()) count *= x.size(d);
  }
  return reduce_sum(x, dims, keepdim, 1.0 / static_cast<double>(count));
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CUDA, m) {
  m.impl("sum", &sum_cuda);
  m.impl("mean", &mean_cuda);
}

}  // namespace torchext::cuda
