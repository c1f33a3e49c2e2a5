// Batch normalisation (CUDA kernels).
//
// Per-channel reductions run on a (channels, splits) grid: each block reduces one slice of one
// channel's values, writing a partial result; a second kernel, one thread per channel, combines
// the partials in slice order (deterministic) and finishes the channel. The statistics use
// Welford's update per thread and Chan et al.'s pairwise combination of (count, mean, M2)
// between threads and slices, which stays accurate for large means.
#include "batch_norm.h"
#include "cuda_utils.cuh"

namespace torchext::cuda {
namespace {

constexpr int64_t kTargetBlocks = 1024;
constexpr int64_t kMinPerThread = 16;

struct ChannelPlan {
  int64_t splits, chunk;
};

ChannelPlan plan_channels(const ChannelShape& s) {
  const int64_t n = s.per_channel();
  const int64_t by_size = std::max<int64_t>(1, n / (kBlock * kMinPerThread));
  const int64_t by_grid = std::max<int64_t>(1, kTargetBlocks / std::max<int64_t>(s.channels, 1));
  const int64_t splits = std::min({by_size, by_grid, int64_t{65535}});
  return {splits, std::max<int64_t>(1, ceil_div(n, splits))};
}

// Offset of value e (of per_channel()) of channel c.
__device__ __forceinline__ int64_t channel_offset(const ChannelShape& s, int64_t c, int64_t e) {
  return ((e / s.inner) * s.channels + c) * s.inner + e % s.inner;
}

// Chan et al.: combines (n_b, mean_b, m2_b) into (n, mean, m2).
template <typename A>
__device__ __forceinline__ void combine(int64_t& n, A& mean, A& m2, int64_t n_b, A mean_b, A m2_b) {
  if (n_b == 0) return;
  const int64_t total = n + n_b;
  const A delta = mean_b - mean;
  const A frac = static_cast<A>(n_b) / static_cast<A>(total);
  mean += delta * frac;
  m2 += m2_b + delta * delta * static_cast<A>(n) * frac;
  n = total;
}

template <typename T>
__global__ void welford_kernel(const T* __restrict__ x, ChannelShape s, int64_t chunk,
                               int64_t* __restrict__ counts, acc_t<T>* __restrict__ means,
                               acc_t<T>* __restrict__ m2s) {
  using A = acc_t<T>;
  __shared__ int64_t sh_n[kBlock];
  __shared__ A sh_mean[kBlock], sh_m2[kBlock];
  const int64_t c = blockIdx.x;
  const int64_t begin = static_cast<int64_t>(blockIdx.y) * chunk;
  const int64_t end = min(s.per_channel(), begin + chunk);
  int64_t n = 0;
  A mean = A(0), m2 = A(0);
  for (int64_t e = begin + threadIdx.x; e < end; e += blockDim.x) {
    const A v = static_cast<A>(x[channel_offset(s, c, e)]);
    ++n;
    const A delta = v - mean;
    mean += delta / static_cast<A>(n);
    m2 += delta * (v - mean);
  }
  const int t = threadIdx.x;
  sh_n[t] = n;
  sh_mean[t] = mean;
  sh_m2[t] = m2;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    if (t < half) {
      int64_t na = sh_n[t];
      A ma = sh_mean[t], qa = sh_m2[t];
      // <A> named: the emulator's checked shared elements convert to A but do not deduce it.
      combine<A>(na, ma, qa, sh_n[t + half], sh_mean[t + half], sh_m2[t + half]);
      sh_n[t] = na;
      sh_mean[t] = ma;
      sh_m2[t] = qa;
    }
    __syncthreads();
  }
  if (t == 0) {
    const int64_t slot = c * gridDim.y + blockIdx.y;
    counts[slot] = sh_n[0];
    means[slot] = sh_mean[0];
    m2s[slot] = sh_m2[0];
  }
}

template <typename A>
__global__ void stats_finish_kernel(const int64_t* __restrict__ counts, const A* __restrict__ means,
                                    const A* __restrict__ m2s, int64_t channels, int64_t splits,
                                    A eps, A momentum, A* __restrict__ mean_out,
                                    A* __restrict__ invstd_out, A* __restrict__ running_mean,
                                    A* __restrict__ running_var) {
  for (int64_t c = thread_index(); c < channels; c += thread_count()) {
    int64_t n = 0;
    A mean = A(0), m2 = A(0);
    for (int64_t k = 0; k < splits; ++k)
      combine(n, mean, m2, counts[c * splits + k], means[c * splits + k], m2s[c * splits + k]);
    const A var = m2 / static_cast<A>(n);
    mean_out[c] = mean;
    invstd_out[c] = A(1) / sqrt(var + eps);
    if (running_mean != nullptr) {
      const A unbiased = m2 / static_cast<A>(n - 1);
      running_mean[c] = (A(1) - momentum) * running_mean[c] + momentum * mean;
      running_var[c] = (A(1) - momentum) * running_var[c] + momentum * unbiased;
    }
  }
}

template <typename A>
__global__ void invstd_kernel(const A* __restrict__ var, int64_t channels, A eps,
                              A* __restrict__ invstd) {
  for (int64_t c = thread_index(); c < channels; c += thread_count())
    invstd[c] = A(1) / sqrt(var[c] + eps);
}

template <typename T>
__global__ void apply_kernel(const T* __restrict__ x, ChannelShape s, const acc_t<T>* __restrict__ mean,
                             const acc_t<T>* __restrict__ invstd, const acc_t<T>* __restrict__ weight,
                             const acc_t<T>* __restrict__ bias, const T* __restrict__ residual,
                             bool relu, T* __restrict__ y) {
  using A = acc_t<T>;
  const int64_t total = s.outer * s.channels * s.inner;
  for (int64_t i = thread_index(); i < total; i += thread_count()) {
    const int64_t c = (i / s.inner) % s.channels;
    const A w = weight != nullptr ? weight[c] : A(1);
    const A b = bias != nullptr ? bias[c] : A(0);
    A v = (static_cast<A>(x[i]) - mean[c]) * invstd[c] * w + b;
    if (residual != nullptr) v += static_cast<A>(residual[i]);
    if (relu && !(v > A(0) || v != v)) v = A(0);  // NaN propagates, as native's relu
    y[i] = static_cast<T>(v);
  }
}

template <typename T>
__global__ void grad_sums_kernel(const T* __restrict__ dy, const T* __restrict__ x, ChannelShape s,
                                 int64_t chunk, const acc_t<T>* __restrict__ mean,
                                 const T* __restrict__ relu_out, T* __restrict__ masked_dy,
                                 acc_t<T>* __restrict__ part_dy, acc_t<T>* __restrict__ part_dy_xmu) {
  using A = acc_t<T>;
  __shared__ A sh_dy[kBlock], sh_dy_xmu[kBlock];
  const int64_t c = blockIdx.x;
  const int64_t begin = static_cast<int64_t>(blockIdx.y) * chunk;
  const int64_t end = min(s.per_channel(), begin + chunk);
  const A m = mean[c];
  A sum_dy = A(0), sum_dy_xmu = A(0);
  for (int64_t e = begin + threadIdx.x; e < end; e += blockDim.x) {
    const int64_t off = channel_offset(s, c, e);
    A g = static_cast<A>(dy[off]);
    if (relu_out != nullptr) {  // relu's backward first, as native's threshold_backward
      if (static_cast<A>(relu_out[off]) <= A(0)) g = A(0);
      masked_dy[off] = static_cast<T>(g);
    }
    sum_dy += g;
    sum_dy_xmu += g * (static_cast<A>(x[off]) - m);
  }
  const int t = threadIdx.x;
  sh_dy[t] = sum_dy;
  sh_dy_xmu[t] = sum_dy_xmu;
  __syncthreads();
  for (int half = blockDim.x / 2; half > 0; half /= 2) {
    if (t < half) {
      sh_dy[t] += sh_dy[t + half];
      sh_dy_xmu[t] += sh_dy_xmu[t + half];
    }
    __syncthreads();
  }
  if (t == 0) {
    part_dy[c * gridDim.y + blockIdx.y] = sh_dy[0];
    part_dy_xmu[c * gridDim.y + blockIdx.y] = sh_dy_xmu[0];
  }
}

template <typename A>
__global__ void grad_sums_finish_kernel(const A* __restrict__ part_dy,
                                        const A* __restrict__ part_dy_xmu, int64_t channels,
                                        int64_t splits, const A* __restrict__ invstd,
                                        A* __restrict__ sum_dy, A* __restrict__ sum_dy_xmu,
                                        A* __restrict__ grad_weight) {
  for (int64_t c = thread_index(); c < channels; c += thread_count()) {
    A a = A(0), b = A(0);
    for (int64_t k = 0; k < splits; ++k) {
      a += part_dy[c * splits + k];
      b += part_dy_xmu[c * splits + k];
    }
    sum_dy[c] = a;
    sum_dy_xmu[c] = b;
    grad_weight[c] = b * invstd[c];
  }
}

template <typename T>
__global__ void input_grad_kernel(const T* __restrict__ dy, const T* __restrict__ x, ChannelShape s,
                                  const acc_t<T>* __restrict__ mean, const acc_t<T>* __restrict__ invstd,
                                  const acc_t<T>* __restrict__ weight,
                                  const acc_t<T>* __restrict__ sum_dy,
                                  const acc_t<T>* __restrict__ sum_dy_xmu, T* __restrict__ dx) {
  using A = acc_t<T>;
  const int64_t total = s.outer * s.channels * s.inner;
  const A n = static_cast<A>(s.per_channel());
  for (int64_t i = thread_index(); i < total; i += thread_count()) {
    const int64_t c = (i / s.inner) % s.channels;
    const A k = (weight != nullptr ? weight[c] : A(1)) * invstd[c];
    const A g = static_cast<A>(dy[i]);
    if (sum_dy == nullptr) {
      dx[i] = static_cast<T>(k * g);
    } else {
      const A proj = invstd[c] * invstd[c] * sum_dy_xmu[c] / n;
      dx[i] = static_cast<T>(k * (g - sum_dy[c] / n - (static_cast<A>(x[i]) - mean[c]) * proj));
    }
  }
}

}  // namespace

template <typename T>
void batch_norm_stats_launch(const T* x, const ChannelShape& s, double eps, double momentum,
                             acc_t<T>* mean, acc_t<T>* invstd, acc_t<T>* running_mean,
                             acc_t<T>* running_var) {
  using A = acc_t<T>;
  if (s.channels == 0) return;
  const ChannelPlan plan = plan_channels(s);
  const int64_t slots = s.channels * plan.splits;
  auto counts = allocate_scratch<int64_t>(slots);
  auto means = allocate_scratch<A>(slots);
  auto m2s = allocate_scratch<A>(slots);
  TORCH_CHECK(s.channels < (int64_t{1} << 31), "torchext.batch_norm: too many channels");
  const dim3 grid(static_cast<unsigned>(s.channels), static_cast<unsigned>(plan.splits));
  welford_kernel<T><<<grid, kBlock, 0, current_stream()>>>(
      x, s, plan.chunk, static_cast<int64_t*>(counts.get()), static_cast<A*>(means.get()),
      static_cast<A*>(m2s.get()));
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  stats_finish_kernel<A><<<grid_for(s.channels), kBlock, 0, current_stream()>>>(
      static_cast<const int64_t*>(counts.get()), static_cast<const A*>(means.get()),
      static_cast<const A*>(m2s.get()), s.channels, plan.splits, static_cast<A>(eps),
      static_cast<A>(momentum), mean, invstd, running_mean, running_var);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename A>
void invstd_from_var_launch(const A* var, int64_t channels, double eps, A* invstd) {
  if (channels == 0) return;
  invstd_kernel<A><<<grid_for(channels), kBlock, 0, current_stream()>>>(var, channels,
                                                                        static_cast<A>(eps), invstd);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T>
void batch_norm_apply_launch(const T* x, const ChannelShape& s, const acc_t<T>* mean,
                             const acc_t<T>* invstd, const acc_t<T>* weight,
                             const acc_t<T>* bias, const T* residual, bool relu, T* y) {
  const int64_t total = s.outer * s.channels * s.inner;
  if (total == 0) return;
  apply_kernel<T><<<grid_for(total), kBlock, 0, current_stream()>>>(x, s, mean, invstd, weight,
                                                                    bias, residual, relu, y);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T>
void batch_norm_grad_sums_launch(const T* dy, const T* x, const ChannelShape& s,
                                 const acc_t<T>* mean, const acc_t<T>* invstd, const T* relu_out,
                                 T* masked_dy, acc_t<T>* sum_dy, acc_t<T>* sum_dy_xmu,
                                 acc_t<T>* grad_weight) {
  using A = acc_t<T>;
  if (s.channels == 0) return;
  const ChannelPlan plan = plan_channels(s);
  const int64_t slots = s.channels * plan.splits;
  auto part_dy = allocate_scratch<A>(slots);
  auto part_dy_xmu = allocate_scratch<A>(slots);
  TORCH_CHECK(s.channels < (int64_t{1} << 31), "torchext.batch_norm_backward: too many channels");
  const dim3 grid(static_cast<unsigned>(s.channels), static_cast<unsigned>(plan.splits));
  grad_sums_kernel<T><<<grid, kBlock, 0, current_stream()>>>(
      dy, x, s, plan.chunk, mean, relu_out, masked_dy, static_cast<A*>(part_dy.get()),
      static_cast<A*>(part_dy_xmu.get()));
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  grad_sums_finish_kernel<A><<<grid_for(s.channels), kBlock, 0, current_stream()>>>(
      static_cast<const A*>(part_dy.get()), static_cast<const A*>(part_dy_xmu.get()), s.channels,
      plan.splits, invstd, sum_dy, sum_dy_xmu, grad_weight);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

template <typename T>
void batch_norm_input_grad_launch(const T* dy, const T* x, const ChannelShape& s,
                                  const acc_t<T>* mean, const acc_t<T>* invstd,
                                  const acc_t<T>* weight, const acc_t<T>* sum_dy,
                                  const acc_t<T>* sum_dy_xmu, T* dx) {
  const int64_t total = s.outer * s.channels * s.inner;
  if (total == 0) return;
  input_grad_kernel<T><<<grid_for(total), kBlock, 0, current_stream()>>>(
      dy, x, s, mean, invstd, weight, sum_dy, sum_dy_xmu, dx);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

#define INSTANTIATE(T)                                                                          \
  template void batch_norm_stats_launch<T>(const T*, const ChannelShape&, double, double,       \
                                           acc_t<T>*, acc_t<T>*, acc_t<T>*, acc_t<T>*);         \
  template void batch_norm_apply_launch<T>(const T*, const ChannelShape&, const acc_t<T>*,      \
                                           const acc_t<T>*, const acc_t<T>*, const acc_t<T>*,   \
                                           const T*, bool, T*);                                 \
  template void batch_norm_grad_sums_launch<T>(const T*, const T*, const ChannelShape&,         \
                                               const acc_t<T>*, const acc_t<T>*, const T*, T*,  \
                                               acc_t<T>*, acc_t<T>*, acc_t<T>*);                \
  template void batch_norm_input_grad_launch<T>(const T*, const T*, const ChannelShape&,        \
                                                const acc_t<T>*, const acc_t<T>*,               \
                                                const acc_t<T>*, const acc_t<T>*,               \
                                                const acc_t<T>*, T*);
TORCHEXT_FOR_CUDA_FLOATING_TYPES(INSTANTIATE)
#undef INSTANTIATE
template void invstd_from_var_launch<float>(const float*, int64_t, double, float*);
template void invstd_from_var_launch<double>(const double*, int64_t, double, double*);

}  // namespace torchext::cuda
