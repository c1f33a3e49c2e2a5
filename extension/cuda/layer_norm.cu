// layer_norm forward and backward (CUDA kernels): a block per row for the statistics and the
// input gradient; the weight and bias gradients by columns, over row chunks fixed by the shape
// (deterministic), then the chunks added in order.
#include <limits>

#include "layer_norm.h"
#include "row_reduce.cuh"

namespace torchext::cuda {
namespace {

// Rows each chunk of the weight/bias gradient adds up (more when the chunks would exceed grid.y).
constexpr int64_t kParamChunkRows = 256;
constexpr int64_t kMaxChunks = 65535;

template <typename T>
__global__ void layer_norm_kernel(const T* __restrict__ x, const T* __restrict__ weight,
                                  const T* __restrict__ bias, int64_t M, int64_t N, acc_t<T> eps,
                                  T* __restrict__ out, acc_t<T>* __restrict__ mean,
                                  acc_t<T>* __restrict__ rstd) {
  using A = acc_t<T>;
  __shared__ A shared[kRowBlock];
  for (int64_t r = blockIdx.x; r < M; r += gridDim.x) {
    const T* row = x + r * N;
    A s = A(0);
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x) s += static_cast<A>(row[i]);
    s = block_sum(s, shared);
    // An empty row: mean 0, rstd NaN, as native's.
    const A m = N > 0 ? s / static_cast<A>(N) : A(0);
    A q = A(0);
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
      const A d = static_cast<A>(row[i]) - m;
      q += d * d;
    }
    q = block_sum(q, shared);
    const A rs = N > 0 ? A(1) / sqrt(q / static_cast<A>(N) + eps) : std::numeric_limits<A>::quiet_NaN();
    T* o = out + r * N;
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
      A v = (static_cast<A>(row[i]) - m) * rs;
      if (weight != nullptr) v *= static_cast<A>(weight[i]);
      if (bias != nullptr) v += static_cast<A>(bias[i]);
      o[i] = static_cast<T>(v);
    }
    if (threadIdx.x == 0) {
      mean[r] = m;
      rstd[r] = rs;
    }
  }
}

// dx = rstd * (g - sum(g) / N - xhat * sum(g * xhat) / N), g = dy * weight, per row.
template <typename T>
__global__ void layer_norm_input_grad_kernel(const T* __restrict__ dy, const T* __restrict__ x,
                                             const acc_t<T>* __restrict__ mean,
                                             const acc_t<T>* __restrict__ rstd,
                                             const T* __restrict__ weight, int64_t M, int64_t N,
                                             T* __restrict__ dx) {
  using A = acc_t<T>;
  __shared__ A shared[kRowBlock];
  for (int64_t r = blockIdx.x; r < M; r += gridDim.x) {
    const T* g = dy + r * N;
    const T* v = x + r * N;
    const A m = mean[r], rs = rstd[r];
    A a = A(0), b = A(0);
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
      const A gw = static_cast<A>(g[i]) * (weight != nullptr ? static_cast<A>(weight[i]) : A(1));
      a += gw;
      b += gw * (static_cast<A>(v[i]) - m) * rs;
    }
    a = block_sum(a, shared) / static_cast<A>(N);
    b = block_sum(b, shared) / static_cast<A>(N);
    T* o = dx + r * N;
    for (int64_t i = threadIdx.x; i < N; i += blockDim.x) {
      const A gw = static_cast<A>(g[i]) * (weight != nullptr ? static_cast<A>(weight[i]) : A(1));
      o[i] = static_cast<T>(rs * (gw - a - (static_cast<A>(v[i]) - m) * rs * b));
    }
  }
}

// Per column j and row chunk blockIdx.y: sums of dy * xhat and of dy into part_w/part_b.
template <typename T>
__global__ void layer_norm_param_partials_kernel(const T* __restrict__ dy, const T* __restrict__ x,
                                                 const acc_t<T>* __restrict__ mean,
                                                 const acc_t<T>* __restrict__ rstd, int64_t M,
                                                 int64_t N, int64_t chunk_rows,
                                                 acc_t<T>* __restrict__ part_w,
                                                 acc_t<T>* __restrict__ part_b) {
  using A = acc_t<T>;
  const int64_t r0 = static_cast<int64_t>(blockIdx.y) * chunk_rows;
  const int64_t r1 = min(M, r0 + chunk_rows);
  for (int64_t j = thread_index(); j < N; j += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    A sw = A(0), sb = A(0);
    for (int64_t r = r0; r < r1; ++r) {
      const A g = static_cast<A>(dy[r * N + j]);
      sw += g * (static_cast<A>(x[r * N + j]) - mean[r]) * rstd[r];
      sb += g;
    }
    part_w[blockIdx.y * N + j] = sw;
    part_b[blockIdx.y * N + j] = sb;
  }
}

template <typename T>
__global__ void layer_norm_param_finish_kernel(const acc_t<T>* __restrict__ part_w,
                                               const acc_t<T>* __restrict__ part_b, int64_t chunks,
                                               int64_t N, T* __restrict__ dweight, T* __restrict__ dbias) {
  using A = acc_t<T>;
  for (int64_t j = thread_index(); j < N; j += thread_count()) {
    A sw = A(0), sb = A(0);
    for (int64_t c = 0; c < chunks; ++c) {
      sw += part_w[c * N + j];
      sb += part_b[c * N + j];
    }
    if (dweight != nullptr) dweight[j] = static_cast<T>(sw);
    if (dbias != nullptr) dbias[j] = static_cast<T>(sb);
  }
}

unsigned row_grid(int64_t M) { return static_cast<unsigned>(std::min<int64_t>(M, kMaxBlocks)); }

}  // namespace

template <typename T>
void layer_norm_launch(const T* x, const T* weight, const T* bias, int64_t M, int64_t N, double eps,
                       T* out, acc_t<T>* mean, acc_t<T>* rstd) {
  if (M == 0) return;
  layer_norm_kernel<<<row_grid(M), kRowBlock, 0, current_stream()>>>(
      x, weight, bias, M, N, static_cast<acc_t<T>>(eps), out, mean, rstd);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T>
void layer_norm_backward_launch(const T* dy, const T* x, const acc_t<T>* mean, const acc_t<T>* rstd,
                                const T* weight, int64_t M, int64_t N, T* dx, T* dweight, T* dbias) {
  using A = acc_t<T>;
  if (dx != nullptr && M > 0 && N > 0) {
    layer_norm_input_grad_kernel<<<row_grid(M), kRowBlock, 0, current_stream()>>>(
        dy, x, mean, rstd, weight, M, N, dx);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
  if ((dweight == nullptr && dbias == nullptr) || N == 0) return;
  const int64_t chunk_rows = std::max(kParamChunkRows, ceil_div(M, kMaxChunks));
  const int64_t chunks = std::max<int64_t>(1, ceil_div(M, chunk_rows));
  auto part = allocate_scratch<A>(2 * chunks * N);
  A* part_w = static_cast<A*>(part.get());
  A* part_b = part_w + chunks * N;
  const dim3 grid(grid_for(N), static_cast<unsigned>(chunks));
  if (M > 0) {
    layer_norm_param_partials_kernel<<<grid, kBlock, 0, current_stream()>>>(
        dy, x, mean, rstd, M, N, chunk_rows, part_w, part_b);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
  layer_norm_param_finish_kernel<T><<<grid_for(N), kBlock, 0, current_stream()>>>(
      part_w, part_b, M > 0 ? chunks : 0, N, dweight, dbias);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

#define INSTANTIATE(T)                                                                         \
  template void layer_norm_launch<T>(const T*, const T*, const T*, int64_t, int64_t, double, T*, \
                                     acc_t<T>*, acc_t<T>*);                                      \
  template void layer_norm_backward_launch<T>(const T*, const T*, const acc_t<T>*,              \
                                              const acc_t<T>*, const T*, int64_t, int64_t, T*,   \
                                              T*, T*);
TORCHEXT_FOR_CUDA_FLOATING_TYPES(INSTANTIATE)
#undef INSTANTIATE

}  // namespace torchext::cuda
