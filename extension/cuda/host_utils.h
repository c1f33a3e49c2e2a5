// Host-side helpers for the CUDA ops (included only by extension/cuda/*_ops.cpp): device checks
// and building StridedIndexers from tensors. Broadcasting rules come from extension/broadcast.h,
// shared with the CPU kernels.
#pragma once
#include <ATen/ATen.h>
#include <c10/cuda/CUDAGuard.h>

#include <array>

#include "../broadcast.h"
#include "../common.h"
#include "acc_type.h"
#include "indexer.h"

namespace torchext::cuda {

// `t` on the device of `ref` (the CUDA operand that selected this kernel): a 0-dim CPU tensor is
// copied there, as native elementwise ops accept one; any other device mismatch is an error.
inline at::Tensor on_device_of(const char* op, const char* arg, const at::Tensor& t,
                               const char* ref_arg, const at::Tensor& ref) {
  if (t.dim() == 0 && t.device().is_cpu() && !ref.device().is_cpu()) return t.to(ref.device());
  check_same_device(op, ref_arg, ref, arg, t);
  return t;
}

// Every operand's strides viewed over `shape` (already broadcast: stride 0 where an operand
// repeats). Size-1 dimensions are dropped and neighbouring dimensions that every operand steps
// through as one are merged, so a contiguous tensor needs a single dimension.
template <int N>
StridedIndexer<N> make_indexer(at::IntArrayRef shape,
                               const std::array<at::IntArrayRef, N>& strides) {
  StridedIndexer<N> ix;
  int nd = 0;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (shape[d] == 1) continue;
    bool merge = nd > 0;
    for (int k = 0; k < N && merge; ++k)
      merge = ix.strides[k][nd - 1] == strides[k][d] * shape[d];
    if (merge) {
      ix.sizes[nd - 1] *= shape[d];
      for (int k = 0; k < N; ++k) ix.strides[k][nd - 1] = strides[k][d];
      continue;
    }
    TORCH_CHECK(nd < kMaxDims, "torchext: tensors with more than ", kMaxDims,
                " non-mergeable dimensions are not supported on CUDA");
    ix.sizes[nd] = shape[d];
    for (int k = 0; k < N; ++k) ix.strides[k][nd] = strides[k][d];
    ++nd;
  }
  ix.ndim = nd;
  return ix;
}

}  // namespace torchext::cuda
