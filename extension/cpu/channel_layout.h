// How a batch-norm input is walked (channels in dim 1, any rank >= 2): element (o, c, i) at
// (o*C + c)*inner + i. Shared by the generic code that derives it (batch_norm.cpp) and the kernels
// (kernels/channel_loops.h).
#pragma once
#include <c10/core/MemoryFormat.h>

#include <cstdint>

namespace torchext::cpu {

// Reductions walk planes of fewer values than this as rows; elementwise passes, which need no
// accumulators, walk planes of at least one vector's worth of values plane by plane.
constexpr int64_t kRowsBelowInner = 32;
constexpr int64_t kElementwisePlanesFrom = 8;

struct ChannelLayout {
  int64_t outer = 0, channels = 0, inner = 0;
  c10::MemoryFormat format = c10::MemoryFormat::Contiguous;
  bool rows() const { return inner < kRowsBelowInner; }
  bool elementwise_rows() const { return inner < kElementwisePlanesFrom; }
  int64_t row_length() const { return channels * inner; }
  int64_t per_channel() const { return outer * inner; }  // values each channel reduces over
};

}  // namespace torchext::cpu
