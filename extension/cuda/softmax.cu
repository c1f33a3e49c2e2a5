// softmax/log_softmax forward and backward (CUDA kernels): a block per row when the reduced dim
// is the last (inner == 1), else a thread per (outer, inner) column walking N in order.
#include <limits>

#include "row_reduce.cuh"
#include "softmax.h"

namespace torchext::cuda {
namespace {

// NaN-propagating max.
template <typename A>
__device__ __forceinline__ A nan_max(A a, A b) {
  return (a > b || a != a) ? a : b;
}

// The max of v over the block's threads (as block_sum), NaN if any is NaN.
template <typename A, typename Shared>
__device__ __forceinline__ A block_max(A v, Shared& shared) {
  const int t = threadIdx.x;
  shared[t] = v;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    if (t < half) shared[t] = nan_max<A>(shared[t], shared[t + half]);
    __syncthreads();
  }
  const A total = shared[0];
  __syncthreads();
  return total;
}

template <typename T>
__global__ void softmax_rows_kernel(const T* __restrict__ x, int64_t rows, int64_t N, bool take_log,
                                    T* __restrict__ y) {
  using A = acc_t<T>;
  __shared__ A shared[kRowBlock];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* in = x + r * N;
    T* out = y + r * N;
    A m = -std::numeric_limits<A>::infinity();
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x) m = nan_max<A>(static_cast<A>(in[i]), m);
    m = block_max(m, shared);
    A s = A(0);
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x) s += exp(static_cast<A>(in[i]) - m);
    s = block_sum(s, shared);
    const A shift = m + log(s), inv = A(1) / s;
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
      const A v = static_cast<A>(in[i]);
      out[i] = static_cast<T>(take_log ? v - shift : exp(v - m) * inv);
    }
  }
}

template <typename T>
__global__ void softmax_columns_kernel(const T* __restrict__ x, int64_t outer, int64_t N, int64_t inner,
                                       bool take_log, T* __restrict__ y) {
  using A = acc_t<T>;
  for (int64_t c = thread_index(); c < outer * inner; c += thread_count()) {
    const int64_t base = (c / inner) * N * inner + c % inner;
    A m = -std::numeric_limits<A>::infinity();
    for (int64_t k = 0; k < N; ++k) m = nan_max<A>(static_cast<A>(x[base + k * inner]), m);
    A s = A(0);
    for (int64_t k = 0; k < N; ++k) s += exp(static_cast<A>(x[base + k * inner]) - m);
    const A shift = m + log(s), inv = A(1) / s;
    for (int64_t k = 0; k < N; ++k) {
      const A v = static_cast<A>(x[base + k * inner]);
      y[base + k * inner] = static_cast<T>(take_log ? v - shift : exp(v - m) * inv);
    }
  }
}

template <typename T>
__global__ void softmax_backward_rows_kernel(const T* __restrict__ dy, const T* __restrict__ y, int64_t rows,
                                             int64_t N, bool take_log, T* __restrict__ dx) {
  using A = acc_t<T>;
  __shared__ A shared[kRowBlock];
  for (int64_t r = blockIdx.x; r < rows; r += gridDim.x) {
    const T* g = dy + r * N;
    const T* o = y + r * N;
    A s = A(0);
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x)
      s += take_log ? static_cast<A>(g[i]) : static_cast<A>(g[i]) * static_cast<A>(o[i]);
    s = block_sum(s, shared);
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
      const A gi = static_cast<A>(g[i]), oi = static_cast<A>(o[i]);
      dx[r * N + i] = static_cast<T>(take_log ? gi - exp(oi) * s : oi * (gi - s));
    }
  }
}

template <typename T>
__global__ void softmax_backward_columns_kernel(const T* __restrict__ dy, const T* __restrict__ y,
                                                int64_t outer, int64_t N, int64_t inner, bool take_log,
                                                T* __restrict__ dx) {
  using A = acc_t<T>;
  for (int64_t c = thread_index(); c < outer * inner; c += thread_count()) {
    const int64_t base = (c / inner) * N * inner + c % inner;
    A s = A(0);
    for (int64_t k = 0; k < N; ++k) {
      const int64_t at = base + k * inner;
      s += take_log ? static_cast<A>(dy[at]) : static_cast<A>(dy[at]) * static_cast<A>(y[at]);
    }
    for (int64_t k = 0; k < N; ++k) {
      const int64_t at = base + k * inner;
      const A gi = static_cast<A>(dy[at]), oi = static_cast<A>(y[at]);
      dx[at] = static_cast<T>(take_log ? gi - exp(oi) * s : oi * (gi - s));
    }
  }
}

unsigned row_grid(int64_t rows) { return static_cast<unsigned>(std::min<int64_t>(rows, kMaxBlocks)); }

}  // namespace

template <typename T>
void softmax_launch(const T* x, int64_t outer, int64_t N, int64_t inner, bool take_log, T* out) {
  if (outer == 0 || N == 0 || inner == 0) return;
  if (inner == 1) {
    softmax_rows_kernel<<<row_grid(outer), kRowBlock, 0, current_stream()>>>(x, outer, N, take_log, out);
  } else {
    softmax_columns_kernel<<<grid_for(outer * inner), kBlock, 0, current_stream()>>>(x, outer, N, inner, take_log, out);
  }
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T>
void softmax_backward_launch(const T* dy, const T* y, int64_t outer, int64_t N, int64_t inner, bool take_log, T* dx) {
  if (outer == 0 || N == 0 || inner == 0) return;
  if (inner == 1) {
    softmax_backward_rows_kernel<<<row_grid(outer), kRowBlock, 0, current_stream()>>>(dy, y, outer, N, take_log, dx);
  } else {
    softmax_backward_columns_kernel<<<grid_for(outer * inner), kBlock, 0, current_stream()>>>(
        dy, y, outer, N, inner, take_log, dx);
  }
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

#define INSTANTIATE(T)                                                                              \
  template void softmax_launch<T>(const T*, int64_t, int64_t, int64_t, bool, T*);                   \
  template void softmax_backward_launch<T>(const T*, const T*, int64_t, int64_t, int64_t, bool, T*);
TORCHEXT_FOR_CUDA_FLOATING_TYPES(INSTANTIATE)
#undef INSTANTIATE

}  // namespace torchext::cuda
