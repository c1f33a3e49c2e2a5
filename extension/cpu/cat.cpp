// cat (CPU): contiguous inputs and output by one row-run copy over all the inputs; otherwise each
// input copied into its slice of the output by our strided copy, the dims laid out in the output's
// memory order and merged where both sides step through them linearly.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <algorithm>
#include <numeric>
#include <vector>

#include "../cat_args.h"
#include "cat_dispatch.h"

namespace torchext::cpu {
namespace {

// The copy of `in` into `out` (same sizes) over the dims in out's memory order.
BroadcastLayout<2> copy_layout(const at::Tensor& out, const at::Tensor& in) {
  std::vector<int64_t> order(out.dim());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int64_t a, int64_t b) { return out.stride(a) > out.stride(b); });
  BroadcastLayout<2> layout;
  for (int64_t d : order) {
    const int64_t size = out.size(d);
    layout.numel *= size;
    if (size == 1) continue;
    if (!layout.sizes.empty() && layout.strides[0].back() == out.stride(d) * size &&
        layout.strides[1].back() == in.stride(d) * size) {
      layout.sizes.back() *= size;
      layout.strides[0].back() = out.stride(d);
      layout.strides[1].back() = in.stride(d);
      continue;
    }
    layout.sizes.push_back(size);
    layout.strides[0].push_back(out.stride(d));
    layout.strides[1].push_back(in.stride(d));
  }
  return layout;
}

// Contiguous inputs (of plan.dtype) into a contiguous output: one row-run kernel call; false
// (nothing written) for any other layout.
bool cat_contiguous(const std::vector<at::Tensor>& inputs, int64_t dim, at::Tensor& out) {
  if (!out.is_contiguous()) return false;
  for (const auto& t : inputs)
    if (!t.is_contiguous()) return false;
  int64_t inner = 1;
  for (int64_t d = dim + 1; d < out.dim(); ++d) inner *= out.size(d);
  const int64_t row = out.size(dim) * inner;
  AT_DISPATCH_FLOATING_TYPES(out.scalar_type(), "torchext_cat", [&] {
    std::vector<CatInput<scalar_t>> runs;
    int64_t offset = 0;
    for (const auto& t : inputs) {
      runs.push_back({t.const_data_ptr<scalar_t>(), t.size(dim) * inner, offset});
      offset += t.size(dim) * inner;
    }
    cpu_kernel<CatRowsKernel, scalar_t>()(out.numel() / row, row, runs,
                                          out.mutable_data_ptr<scalar_t>());
  });
  return true;
}

at::Tensor cat_cpu(at::TensorList tensors, int64_t dim) {
  const CatPlan plan = cat_args("torchext.cat", tensors, dim);
  auto out = at::empty(plan.shape, tensors[0].options().dtype(plan.dtype).memory_format(plan.format));
  if (out.numel() == 0) return out;
  std::vector<at::Tensor> inputs;  // those that add elements, in plan.dtype
  for (size_t i = 0; i < tensors.size(); ++i)
    if (!plan.skipped[i] && tensors[i].size(plan.dim) > 0) inputs.push_back(tensors[i].to(plan.dtype));
  if (cat_contiguous(inputs, plan.dim, out)) return out;
  int64_t offset = 0;
  for (const auto& in : inputs) {
    const int64_t size = in.size(plan.dim);
    auto slice = out.narrow(plan.dim, offset, size);
    const auto layout = copy_layout(slice, in);
    AT_DISPATCH_FLOATING_TYPES(plan.dtype, "torchext_cat", [&] {
      cpu_kernel<StridedCopyKernel, scalar_t>()(layout, slice.mutable_data_ptr<scalar_t>(),
                                                in.const_data_ptr<scalar_t>());
    });
    offset += size;
  }
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CPU, m) {
  m.impl("cat", &cat_cpu);
}

}  // namespace torchext::cpu
