// Toy kernels for tests/test_cuda_emulator.py: each has a planted bug the CUDA emulator
// (tools/cuda_emulator) must report, switched on by its `bug` argument, and is correct without
// it. Compiled for the CPU with the emulator's overlay after build.py's rewrites; each entry
// point returns 0, or 1 with the emulator's error in `err`.
#include <chrono>
#include <cstdio>

#include "emu_cuda.h"

namespace {

constexpr int kToyBlock = 64;

// *out += the sum of in[0, n): a shared-memory tree per block, one atomic add per block. The
// bugs: a missing barrier between filling the tree and reducing it, and threads past n leaving
// their tree slot unwritten.
__global__ void block_sum(const float* in, int64_t n, float* out, bool skip_barrier,
                          bool skip_tail) {
  __shared__ float shares[kToyBlock];
  const int t = threadIdx.x;
  const int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + t;
  if (i < n)
    shares[t] = in[i];
  else if (!skip_tail)
    shares[t] = 0;
  if (!skip_barrier) __syncthreads();
  for (int s = blockDim.x / 2; s > 0; s /= 2) {
    if (t < s) shares[t] += shares[t + s];
    __syncthreads();
  }
  if (t == 0) atomicAdd(out, static_cast<float>(shares[0]));
}

// out[b] = in[0] + ... + in[b], a block per b. The bug reads block b - 1's result, which only
// blocks run one after another in index order would have written.
__global__ void prefix(const float* in, float* out, bool bug) {
  const int64_t b = blockIdx.x;
  if (threadIdx.x != 0) return;
  if (bug) {
    out[b] = (b == 0 ? 0.0f : out[b - 1]) + in[b];
  } else {
    float s = 0;
    for (int64_t k = 0; k <= b; ++k) s += in[k];
    out[b] = s;
  }
}

// mode 1: odd and even threads wait at two different barriers; mode 2: threads past 40 return
// while the others wait; mode 0: every thread passes one barrier.
__global__ void barriers(float* out, int mode) {
  const int t = threadIdx.x;
  if (mode == 1) {
    if (t % 2) {
      __syncthreads();
    } else {
      __syncthreads();
    }
  } else if (mode == 2) {
    if (t >= 40) return;
    __syncthreads();
  } else {
    __syncthreads();
  }
  out[t] = static_cast<float>(t);
}

// Thread 0 publishes a flag the other threads wait for; the bug has it wait at a barrier first,
// which the others never reach: a deadlock. (The wait gives up after 2 s, so that the test's
// threads end; the emulator's time limit is set shorter.)
__global__ void handoff(volatile int* flag, float* out, bool bug) {
  const int t = threadIdx.x;
  if (t == 0) {
    if (bug) __syncthreads();
    *flag = 1;
  } else {
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(2);
    while (*flag == 0 && std::chrono::steady_clock::now() < give_up) {
    }
  }
  out[t] = static_cast<float>(*flag);
}

// N doubles of static shared memory: 6144 is the 48 KiB a block may have, 6145 one too many.
template <int N>
__global__ void fill_shared(double* out) {
  __shared__ double buf[N];
  const int t = threadIdx.x;
  for (int i = t; i < N; i += blockDim.x) buf[i] = i;
  __syncthreads();
  if (t == 0) *out = buf[N - 1];
}

// out[t] = dyn[t] from the launch's dynamic shared memory; the bug reads before writing.
__global__ void dynamic_copy(float* out, bool bug) {
  extern __shared__ float dyn[];
  const int t = threadIdx.x;
  if (!bug) dyn[t] = static_cast<float>(t);
  __syncthreads();
  out[t] = dyn[t];
}

// out[row] = row for every row, one single-thread block per row of grid.y and a grid-stride
// loop over the rows past gridDim.y.
__global__ void rows(float* out, int64_t n) {
  for (int64_t r = blockIdx.y; r < n; r += gridDim.y) out[r] = static_cast<float>(r);
}

template <typename F>
int guarded(char* err, F f) {
  try {
    f();
    return 0;
  } catch (const std::exception& e) {
    std::snprintf(err, 4096, "%s", e.what());
    return 1;
  }
}

}  // namespace

extern "C" {

int toy_block_sum(const float* in, int64_t n, float* out, bool skip_barrier, bool skip_tail,
                  char* err) {
  return guarded(err, [&] {
    const unsigned blocks = static_cast<unsigned>((n + kToyBlock - 1) / kToyBlock);
    block_sum<<<blocks, kToyBlock, 0, nullptr>>>(in, n, out, skip_barrier, skip_tail);
  });
}

int toy_prefix(const float* in, int64_t n, float* out, bool bug, char* err) {
  return guarded(err, [&] { prefix<<<static_cast<unsigned>(n), 2, 0, nullptr>>>(in, out, bug); });
}

int toy_barriers(float* out, int mode, char* err) {
  return guarded(err, [&] { barriers<<<2, kToyBlock, 0, nullptr>>>(out, mode); });
}

int toy_handoff(int* flag, float* out, bool bug, char* err) {
  return guarded(err, [&] { handoff<<<1, 4, 0, nullptr>>>(flag, out, bug); });
}

int toy_fill_shared(double* out, bool over, char* err) {
  return guarded(err, [&] {
    if (over)
      fill_shared<6145><<<1, 32, 0, nullptr>>>(out);
    else
      fill_shared<6144><<<1, 32, 0, nullptr>>>(out);
  });
}

int toy_dynamic_copy(float* out, int threads, size_t smem, bool bug, char* err) {
  return guarded(err, [&] { dynamic_copy<<<1, threads, smem, nullptr>>>(out, bug); });
}

int toy_block_dims(float* out, unsigned bx, unsigned by, unsigned bz, char* err) {
  return guarded(err, [&] { barriers<<<1, dim3(bx, by, bz), 0, nullptr>>>(out, 0); });
}

int toy_rows(float* out, int64_t n, unsigned grid_y, char* err) {
  return guarded(err, [&] { rows<<<dim3(1, grid_y), 1, 0, nullptr>>>(out, n); });
}

}  // extern "C"
