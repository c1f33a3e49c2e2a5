// Which capability's kernels the dispatch stubs call (dispatch.h): detected with CPUID, forced by
// TORCHEXT_CPU_CAPABILITY, switched by torchext.backends.cpu. Compiled for the baseline, like all
// the generic code.
#include <c10/util/Exception.h>

#include <atomic>
#include <cstdlib>
#include <cstring>
#include <string>

#include "dispatch.h"

namespace torchext::cpu {
namespace {

constexpr const char* kNames[kCpuCapabilities] = {"default", "avx2", "avx512"};

// -1 until the first call of active_cpu_capability settles it.
std::atomic<int> active{-1};

std::string supported_list() {
  std::string list;
  for (int c = 0; c < kCpuCapabilities; ++c) {
    if (!cpu_supports(CpuCapability(c))) continue;
    list += list.empty() ? "" : ", ";
    list += kNames[c];
  }
  return list;
}

CpuCapability checked(CpuCapability capability, const char* source) {
  TORCH_CHECK(cpu_supports(capability), "torchext: ", source, " asks for the '",
              kNames[int(capability)], "' CPU kernels, but this CPU supports only: ",
              supported_list());
  return capability;
}

CpuCapability best_supported() {
  for (int c = kCpuCapabilities - 1; c > 0; --c)
    if (cpu_supports(CpuCapability(c))) return CpuCapability(c);
  return CpuCapability::DEFAULT;
}

}  // namespace

const char* cpu_capability_name(CpuCapability capability) { return kNames[int(capability)]; }

CpuCapability cpu_capability_from_name(const char* name, const char* source) {
  for (int c = 0; c < kCpuCapabilities; ++c)
    if (std::strcmp(name, kNames[c]) == 0) return CpuCapability(c);
  TORCH_CHECK(false, "torchext: ", source, " names an unknown CPU capability '", name,
              "' (expected one of: default, avx2, avx512)");
}

// The instruction sets each capability's kernels are compiled for (setup.py's CPU_CAPABILITIES).
// __builtin_cpu_supports also checks that the OS saves the wide registers (XGETBV).
bool cpu_supports(CpuCapability capability) {
  __builtin_cpu_init();
  switch (capability) {
    case CpuCapability::AVX512:
      return cpu_supports(CpuCapability::AVX2) && __builtin_cpu_supports("avx512f") &&
             __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
             __builtin_cpu_supports("avx512dq");
    case CpuCapability::AVX2:
      return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
             __builtin_cpu_supports("bmi") &&
             __builtin_cpu_supports("f16c") && __builtin_cpu_supports("bmi2");
    default:
      return true;
  }
}

CpuCapability active_cpu_capability() {
  const int current = active.load(std::memory_order_relaxed);
  if (current >= 0) return CpuCapability(current);
  const char* forced = std::getenv("TORCHEXT_CPU_CAPABILITY");
  const CpuCapability chosen =
      forced && *forced
          ? checked(cpu_capability_from_name(forced, "TORCHEXT_CPU_CAPABILITY"),
                    "TORCHEXT_CPU_CAPABILITY")
          : best_supported();
  active.store(int(chosen), std::memory_order_relaxed);
  return chosen;
}

void set_cpu_capability(CpuCapability capability) {
  active.store(int(checked(capability, "set_capability")), std::memory_order_relaxed);
}

}  // namespace torchext::cpu
