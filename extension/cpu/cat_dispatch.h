// The strided copy behind cat (kernels/cat.cpp), dispatched to the capability in use (dispatch.h).
#pragma once
#include "broadcast_layout.h"
#include "dispatch.h"

namespace torchext::cpu {

// out[...] = in[...] over a layout whose strides[0] are out's and strides[1] in's (element
// strides; dims merged, outermost first).
template <typename T>
struct StridedCopyKernel {
  using Fn = void(const BroadcastLayout<2>& layout, T* out, const T* in);
};

}  // namespace torchext::cpu

TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::StridedCopyKernel);
