// The register-only FMA loop behind the benchmark's peak figure (kernels/fma_peak.cpp),
// dispatched to the capability in use (dispatch.h): the peak of the vectors the kernels use.
#pragma once
#include <cstdint>

#include "dispatch.h"

namespace torchext::cpu {

// GFLOP/s of `iterations` rounds of register-only float32 FMAs on every thread of the pool (each
// thread one copy of the loop).
struct FmaPeakKernel {
  using Fn = double(int64_t iterations);
};

}  // namespace torchext::cpu

TORCHEXT_DECLARE_DISPATCH(torchext::cpu::FmaPeakKernel);
