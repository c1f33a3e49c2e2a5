// Launchers of the dropout CUDA kernels (dropout.cu).
#pragma once
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cstdint>

namespace torchext::cuda {

// keep[g] = 1 with probability keep_prob, g < groups: a counter-based draw (SplitMix64's mix of
// seed and offset + g), so every element's draw is independent of the launch shape. Not native's
// Philox stream. Without `draw`, keep is all 0.
void dropout_draw_launch(uint64_t seed, uint64_t offset, double keep_prob, bool draw, int64_t groups,
                         uint8_t* keep);

// out[g * inner + i] = x[g * inner + i] * (keep[g] ? 1 / keep_prob : 0) (0 when keep_prob is 0);
// out may be x.
template <typename T>
void masked_scale_launch(const T* x, const uint8_t* keep, int64_t groups, int64_t inner,
                         double keep_prob, T* out);

}  // namespace torchext::cuda
