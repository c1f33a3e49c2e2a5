// pow with a tensor exponent (pow.cpp), for elementwise.cpp's binary kernel.
#pragma once
#include <array>

#include "../broadcast_layout.h"
#include "capability.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY {

void pow_tensor(const BroadcastLayout<2>& layout, float* out, const std::array<const float*, 2>& in);
void pow_tensor(const BroadcastLayout<2>& layout, double* out, const std::array<const double*, 2>& in);

}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY
