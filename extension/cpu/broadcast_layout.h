// The loop layout of an elementwise op over a broadcast shape, shared by the generic code that
// derives it from the tensors (elementwise_operands.h) and the kernels that walk it
// (kernels/elementwise_loop.h).
#pragma once
#include <c10/util/SmallVector.h>

#include <array>
#include <cstdint>

namespace torchext::cpu {

// Loop dims after merging, outermost first, with each input's element strides (0 where broadcast).
template <size_t N>
struct BroadcastLayout {
  c10::SmallVector<int64_t, 6> sizes;
  std::array<c10::SmallVector<int64_t, 6>, N> strides;
  int64_t numel = 1;
};

}  // namespace torchext::cpu
