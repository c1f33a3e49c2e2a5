// The fused multi-tensor SGD step (CUDA kernel).
//
// Per element, with the roundings of torch.optim.SGD's single-tensor path on CUDA (each ATen op
// computes in the accumulate type A and rounds its result to T; scalars are converted to A; each
// `x.add(y, alpha=a)` is one fused multiply-add fma(a, y, x)):
//   g   = maximize ? -grad : grad
//   g   = fma(wd, p, g)                                  if weight_decay != 0
//   buf = first_step ? g : fma(1 - dampening, g, buf * momentum)   if momentum != 0
//   g   = nesterov ? fma(momentum, buf, g) : buf         if momentum != 0
//   p   = fma(-lr, g, p)
//
// Launches pack up to kMaxTensorsPerLaunch parameters' pointers and a table of up to
// kMaxChunksPerLaunch (tensor, chunk) pairs in the kernel arguments; each block updates one chunk
// of one parameter.
#include "cuda_utils.cuh"
#include "sgd.h"

namespace torchext::cuda {
namespace {

constexpr int kMaxTensorsPerLaunch = 48;
constexpr int kMaxChunksPerLaunch = 320;
constexpr int64_t kChunk = 16384;

template <typename T>
struct SgdBatch {
  T* params[kMaxTensorsPerLaunch];
  const T* grads[kMaxTensorsPerLaunch];
  T* bufs[kMaxTensorsPerLaunch];
  int64_t sizes[kMaxTensorsPerLaunch];
  uint8_t tensor_of_block[kMaxChunksPerLaunch];
  int32_t chunk_of_block[kMaxChunksPerLaunch];
};
static_assert(sizeof(SgdBatch<double>) + 64 <= 4096, "kernel arguments must fit in 4 KiB");

template <typename A>
struct SgdScalars {
  A neg_lr, momentum, one_minus_dampening, weight_decay;
  bool use_momentum, nesterov, maximize, first_step, weight_decay_on;
};

template <typename T>
__global__ void sgd_kernel(SgdBatch<T> batch, SgdScalars<acc_t<T>> s) {
  using A = acc_t<T>;
  const int t = batch.tensor_of_block[blockIdx.x];
  const int64_t begin = static_cast<int64_t>(batch.chunk_of_block[blockIdx.x]) * kChunk;
  const int64_t end = min(batch.sizes[t], begin + kChunk);
  T* __restrict__ p = batch.params[t];
  const T* __restrict__ grad = batch.grads[t];
  T* __restrict__ buf = batch.bufs[t];
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    T g = s.maximize ? static_cast<T>(-static_cast<A>(grad[i])) : grad[i];
    if (s.weight_decay_on)
      g = static_cast<T>(fused_mul_add(s.weight_decay, static_cast<A>(p[i]), static_cast<A>(g)));
    if (s.use_momentum) {
      T b;
      if (s.first_step) {
        b = g;
      } else {
        const T scaled = static_cast<T>(static_cast<A>(buf[i]) * s.momentum);
        b = static_cast<T>(fused_mul_add(s.one_minus_dampening, static_cast<A>(g), static_cast<A>(scaled)));
      }
      buf[i] = b;
      g = s.nesterov ? static_cast<T>(fused_mul_add(s.momentum, static_cast<A>(b), static_cast<A>(g))) : b;
    }
    p[i] = static_cast<T>(fused_mul_add(s.neg_lr, static_cast<A>(g), static_cast<A>(p[i])));
  }
}

}  // namespace

template <typename T>
void sgd_step_launch(T* const* params, const T* const* grads, T* const* bufs,
                     const int64_t* sizes, int64_t count, const SgdConfig& config) {
  using A = acc_t<T>;
  const SgdScalars<A> s{static_cast<A>(-config.lr),
                        static_cast<A>(config.momentum),
                        static_cast<A>(1.0 - config.dampening),
                        static_cast<A>(config.weight_decay),
                        bufs != nullptr,
                        config.nesterov,
                        config.maximize,
                        config.first_step,
                        config.weight_decay != 0.0};
  SgdBatch<T> batch;
  int tensors = 0, blocks = 0;
  auto flush = [&] {
    if (blocks > 0) {
      sgd_kernel<T><<<blocks, kBlock, 0, current_stream()>>>(batch, s);
      C10_CUDA_KERNEL_LAUNCH_CHECK();
    }
    tensors = 0;
    blocks = 0;
  };
  for (int64_t i = 0; i < count; ++i) {
    const int64_t chunks = ceil_div(sizes[i], kChunk);
    if (chunks == 0) continue;
    TORCH_CHECK(chunks <= INT32_MAX, "torchext.sgd_step_: a parameter of ", sizes[i],
                " elements is too large");
    for (int64_t c = 0; c < chunks; ++c) {
      if (blocks == kMaxChunksPerLaunch) flush();
      // A parameter split across launches re-enters the next batch's pointer table.
      if (blocks == 0 || c == 0) {
        if (tensors == kMaxTensorsPerLaunch) flush();
        batch.params[tensors] = params[i];
        batch.grads[tensors] = grads[i];
        batch.bufs[tensors] = bufs != nullptr ? bufs[i] : nullptr;
        batch.sizes[tensors] = sizes[i];
        ++tensors;
      }
      batch.tensor_of_block[blocks] = static_cast<uint8_t>(tensors - 1);
      batch.chunk_of_block[blocks] = static_cast<int32_t>(c);
      ++blocks;
    }
  }
  flush();
}

#define INSTANTIATE(T)                                                                  \
  template void sgd_step_launch<T>(T* const*, const T* const*, T* const*, const int64_t*, \
                                   int64_t, const SgdConfig&);
TORCHEXT_FOR_CUDA_FLOATING_TYPES(INSTANTIATE)
#undef INSTANTIATE

}  // namespace torchext::cuda
