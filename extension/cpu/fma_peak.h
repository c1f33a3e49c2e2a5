#pragma once
#include <cstdint>

namespace torchext::cpu {

// GFLOP/s of `iterations` rounds of register-only float32 FMAs on every thread of the pool (each
// thread one copy of the loop), in the widest vectors the kernels use.
double fma_peak_gflops(int64_t iterations);

}  // namespace torchext::cpu
