// cat (CUDA host side): each input copied into its slice of the output by our strided copy.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include "../cat_args.h"
#include "cat.h"
#include "host_utils.h"

namespace torchext::cuda {
namespace {

at::Tensor cat_cuda(at::TensorList tensors, int64_t dim) {
  const CatPlan plan = cat_args("torchext.cat", tensors, dim);
  c10::cuda::CUDAGuard guard(tensors[0].device());
  auto out = at::empty(plan.shape, tensors[0].options().dtype(plan.dtype).memory_format(plan.format));
  int64_t offset = 0;
  for (size_t i = 0; i < tensors.size(); ++i) {
    if (plan.skipped[i] || tensors[i].size(plan.dim) == 0) continue;
    const auto in = tensors[i].to(plan.dtype);
    auto slice = out.narrow(plan.dim, offset, in.size(plan.dim));
    const auto ix = make_indexer<2>(in.sizes(), {slice.strides(), in.strides()});
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, plan.dtype, "torchext_cat", [&] {
      strided_copy_launch(in.const_data_ptr<scalar_t>(), slice.mutable_data_ptr<scalar_t>(), in.numel(), ix);
    });
    offset += in.size(plan.dim);
  }
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CUDA, m) {
  m.impl("cat", &cat_cuda);
}

}  // namespace torchext::cuda
