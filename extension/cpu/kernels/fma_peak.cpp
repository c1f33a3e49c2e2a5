// The machine's measured float32 arithmetic peak: a loop of vector FMAs on registers alone (no
// memory traffic), on every thread of the pool, for the benchmark's "fraction of peak" figures.
#include <ATen/Parallel.h>

#include <chrono>

#include "../fma_peak_dispatch.h"
#include "gemm_simd.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY {

double fma_peak_gflops(int64_t iterations) {
  using S = gemm_detail::Simd<float>;
  using V = S::V;
  // Independent accumulators enough to cover the FMA latency on two pipes (4 cycles x 2 pipes,
  // with room for wider machines).
  constexpr int kChains = 12;
  const int threads = at::get_num_threads();
  const auto start = std::chrono::steady_clock::now();
  float sink = 0;
  at::parallel_for(0, threads, 1, [&](int64_t lo, int64_t hi) {
    for (int64_t t = lo; t < hi; ++t) {
      V acc[kChains];
      for (int c = 0; c < kChains; ++c) acc[c] = S::set1(float(c + t));
      const V a = S::set1(0.999999f), b = S::set1(1e-7f);
      for (int64_t i = 0; i < iterations; ++i) {
#pragma GCC unroll 12
        for (int c = 0; c < kChains; ++c) acc[c] = S::fmadd(acc[c], a, b);
#if defined(__GNUC__)
        // Keeps the loop from being folded away or vectorized differently.
        for (int c = 0; c < kChains; ++c) __asm__ volatile("" : "+v"(acc[c]));
#endif
      }
      alignas(64) float lanes[S::W];
      V total = acc[0];
      for (int c = 1; c < kChains; ++c) total = S::add(total, acc[c]);
      S::storeu(lanes, total);
      if (lanes[0] == 12345.f) sink += 1;  // results used, so the loops stay
    }
  });
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double flops = 2.0 * S::W * kChains * double(iterations) * threads + sink;
  return flops / seconds / 1e9;
}

}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY

TORCHEXT_REGISTER_DISPATCH(torchext::cpu::FmaPeakKernel, fma_peak_gflops);
