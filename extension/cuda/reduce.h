// Launcher of the sum reduction (reduce.cu). The input is addressed through two indexers: `kept`
// maps an output index (row-major over the kept dimensions) to an input offset, `reduced` maps a
// reduction index to an input offset, so any dimensions of any strided input can be reduced.
#pragma once
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cstdint>

#include "indexer.h"

namespace torchext::cuda {

// out[o] = scale * sum_r in[kept(o) + reduced(r)] for o < n_out (contiguous output), summed in
// the accumulate type. scale is 1 for a sum, 1/n for a mean; n_red == 0 gives 0 * scale.
template <typename T>
void sum_launch(const T* in, T* out, const StridedIndexer<1>& kept, int64_t n_out,
                const StridedIndexer<1>& reduced, int64_t n_red, double scale);

}  // namespace torchext::cuda
