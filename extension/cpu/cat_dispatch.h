// The copies behind cat (kernels/cat.cpp), dispatched to the capability in use (dispatch.h).
#pragma once
#include <vector>

#include "broadcast_layout.h"
#include "dispatch.h"

namespace torchext::cpu {

// out[...] = in[...] over a layout whose strides[0] are out's and strides[1] in's (element
// strides; dims merged, outermost first).
template <typename T>
struct StridedCopyKernel {
  using Fn = void(const BroadcastLayout<2>& layout, T* out, const T* in);
};

// One contiguous input of a contiguous cat: len elements per outer index, placed at offset
// within each output row.
template <typename T>
struct CatInput {
  const T* data;
  int64_t len, offset;
};

// out[o * row + in.offset + i] = in.data[o * in.len + i] for every outer index o < outer, input and
// i < in.len: all the inputs' runs in one parallel loop.
template <typename T>
struct CatRowsKernel {
  using Fn = void(int64_t outer, int64_t row, const std::vector<CatInput<T>>& inputs, T* out);
};

}  // namespace torchext::cpu

TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::StridedCopyKernel);
TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::CatRowsKernel);
