// Runs CUDA kernels on the CPU for checking them where there is no GPU (tools/cuda_emulator):
// every thread of a block is a std::thread, __syncthreads a std::barrier, blocks run one after
// another (so a function-static serves as __shared__), atomics are std::atomic_ref.
#pragma once
#include <algorithm>
#include <atomic>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <thread>
#include <vector>
#include "emu_types.h"

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  dim3(unsigned a = 1, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
namespace emu {
inline thread_local dim3 tl_blockIdx, tl_threadIdx, tl_blockDim, tl_gridDim;
inline thread_local std::barrier<>* tl_barrier = nullptr;
struct Config { dim3 grid; dim3 block; size_t smem; cudaStream_t stream; };
template <typename F>
void launch(Config c, F body) {
  const unsigned n = c.block.x * c.block.y * c.block.z;
  if (n == 0 || n > 1024) throw std::runtime_error("emu: bad block size");
  if (c.grid.x == 0 || c.grid.y == 0 || c.grid.z == 0 || c.grid.y > 65535 || c.grid.z > 65535)
    throw std::runtime_error("emu: bad grid");
  std::barrier<> bar(n);
  std::vector<std::thread> threads;
  for (unsigned t = 0; t < n; ++t) {
    threads.emplace_back([&, t] {
      tl_blockDim = c.block;
      tl_gridDim = c.grid;
      tl_barrier = &bar;
      tl_threadIdx = dim3(t % c.block.x, (t / c.block.x) % c.block.y, t / (c.block.x * c.block.y));
      for (unsigned z = 0; z < c.grid.z; ++z)
        for (unsigned y = 0; y < c.grid.y; ++y)
          for (unsigned x = 0; x < c.grid.x; ++x) {
            tl_blockIdx = dim3(x, y, z);
            body();
            bar.arrive_and_wait();
          }
    });
  }
  for (auto& th : threads) th.join();
}
}  // namespace emu
#define blockIdx (::emu::tl_blockIdx)
#define threadIdx (::emu::tl_threadIdx)
#define blockDim (::emu::tl_blockDim)
#define gridDim (::emu::tl_gridDim)
inline void __syncthreads() { emu::tl_barrier->arrive_and_wait(); }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline double __fma_rn(double a, double b, double c) { return std::fma(a, b, c); }
inline float rsqrt(float x) { return 1.0f / std::sqrt(x); }
inline double rsqrt(double x) { return 1.0 / std::sqrt(x); }
template <typename A>
inline A atomicAdd(A* p, A v) { return std::atomic_ref<A>(*p).fetch_add(v); }
using std::min; using std::max; using std::sqrt; using std::exp; using std::log1p; using std::abs; using std::pow;
