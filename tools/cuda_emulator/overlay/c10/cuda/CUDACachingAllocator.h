// Emulator stand-in: scratch memory comes from the CPU allocator.
#pragma once
#include <c10/core/CPUAllocator.h>
namespace c10::cuda::CUDACachingAllocator {
inline c10::Allocator* get() { return c10::GetCPUAllocator(); }
}
