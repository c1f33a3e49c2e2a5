// Launcher of the strided copy behind cat (cat.cu). Kernels run on the current stream.
#pragma once
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cstdint>

#include "indexer.h"

namespace torchext::cuda {

// out[off0] = in[off1] for the n elements of one input; ix maps an input-shape index to the
// offsets in the output's slice (operand 0) and in the input (operand 1).
template <typename T>
void strided_copy_launch(const T* in, T* out, int64_t n, const StridedIndexer<2>& ix);

}  // namespace torchext::cuda
