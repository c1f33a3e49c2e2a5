// cat (CPU): each input copied into its slice of the output by our strided copy, the dims laid
// out in the output's memory order and merged where both sides step through them linearly (so a
// contiguous input is one row per outer index).
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

at::Tensor cat_cpu(at::TensorList tensors, int64_t dim) {
  const CatPlan plan = cat_args("torchext.cat", tensors, dim);
  auto out = at::empty(plan.shape, tensors[0].options().dtype(plan.dtype).memory_format(plan.format));
  int64_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (plan.skipped[i]) continue;
    const int64_t size = tensors[i].size(plan.dim);
    if (size == 0) continue;
    const auto in = tensors[i].to(plan.dtype);
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
