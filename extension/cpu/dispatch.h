// Runtime choice of the CPU kernels (as ATen's DispatchStub): every file in kernels/ is compiled
// once per capability (setup.py: DEFAULT = the x86-64 baseline, AVX2, AVX512), each copy in its
// own namespace torchext::cpu::<capability>, and the generic code calls them through a stub that
// picks the copy for the capability in use (the best the CPU has, or the one forced by the
// TORCHEXT_CPU_CAPABILITY environment variable or torchext.backends.cpu.set_capability).
//
// A kernel is described by a tag type naming its function type, e.g.
//   template <typename T> struct GemmKernel { using Fn = void(int64_t, ...); };
// declared once with TORCHEXT_DECLARE_DISPATCH(GemmKernel<float>) next to the tag, registered in
// its kernels/*.cpp with TORCHEXT_REGISTER_DISPATCH(GemmKernel<float>, gemm<float>), and called
// from generic code as DispatchStub<GemmKernel<float>>::get()(...) (or cpu_kernel<GemmKernel, T>()).
#pragma once

namespace torchext::cpu {

enum class CpuCapability : int { DEFAULT = 0, AVX2 = 1, AVX512 = 2 };
constexpr int kCpuCapabilities = 3;

// The capability the stubs dispatch to. The first call settles it from TORCHEXT_CPU_CAPABILITY
// (or the best one the CPU supports) and throws if that names an unknown capability or one this
// CPU lacks. capability.cpp.
CpuCapability active_cpu_capability();

// The per-capability entry points are constant-initialised pointers, defined in each capability's
// kernel object: loading the library runs no code compiled for a capability the CPU may lack.
template <typename Kernel>
struct DispatchStub {
  using Fn = typename Kernel::Fn;
  static Fn* const DEFAULT;
  static Fn* const AVX2;
  static Fn* const AVX512;
  static Fn* get() {
    switch (active_cpu_capability()) {
      case CpuCapability::AVX512: return AVX512;
      case CpuCapability::AVX2: return AVX2;
      default: return DEFAULT;
    }
  }
};

// The function of Kernel<T> for the capability in use: cpu_kernel<ReluKernel, T>()(in, out, n).
template <template <typename> class Kernel, typename T>
typename Kernel<T>::Fn* cpu_kernel() {
  return DispatchStub<Kernel<T>>::get();
}

}  // namespace torchext::cpu

#define TORCHEXT_DECLARE_DISPATCH(...)                                                           \
  template <> ::torchext::cpu::DispatchStub<__VA_ARGS__>::Fn* const                             \
      ::torchext::cpu::DispatchStub<__VA_ARGS__>::DEFAULT;                                       \
  template <> ::torchext::cpu::DispatchStub<__VA_ARGS__>::Fn* const                             \
      ::torchext::cpu::DispatchStub<__VA_ARGS__>::AVX2;                                          \
  template <> ::torchext::cpu::DispatchStub<__VA_ARGS__>::Fn* const                             \
      ::torchext::cpu::DispatchStub<__VA_ARGS__>::AVX512

// In a kernels/*.cpp, at global scope; `function` is looked up in this capability's namespace.
#define TORCHEXT_REGISTER_DISPATCH(kernel, function)                                             \
  template <> ::torchext::cpu::DispatchStub<kernel>::Fn* const                                  \
      ::torchext::cpu::DispatchStub<kernel>::TORCHEXT_CPU_CAPABILITY =                           \
          &::torchext::cpu::TORCHEXT_CPU_CAPABILITY::function

// Both CPU dtypes of a kernel template: Kernel<float> and Kernel<double>, function<float> and
// function<double>.
#define TORCHEXT_DECLARE_DISPATCH_FLOATING(Kernel)  \
  TORCHEXT_DECLARE_DISPATCH(Kernel<float>);         \
  TORCHEXT_DECLARE_DISPATCH(Kernel<double>)
#define TORCHEXT_REGISTER_DISPATCH_FLOATING(Kernel, function)  \
  TORCHEXT_REGISTER_DISPATCH(Kernel<float>, function<float>);  \
  TORCHEXT_REGISTER_DISPATCH(Kernel<double>, function<double>)

namespace torchext::cpu {

// For torchext.backends.cpu (capability.cpp): names are "default", "avx2", "avx512".
const char* cpu_capability_name(CpuCapability capability);
CpuCapability cpu_capability_from_name(const char* name, const char* source);  // throws if unknown
bool cpu_supports(CpuCapability capability);
// Switches the stubs (throws if the CPU lacks it). Not synchronised with ops running on other
// threads: a call in flight may finish on the previous capability's kernels.
void set_cpu_capability(CpuCapability capability);

}  // namespace torchext::cpu
