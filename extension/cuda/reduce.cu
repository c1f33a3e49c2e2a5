// Sum over any dimensions of a strided tensor (CUDA kernels).
//
// A block is a (bx, by) grid of threads. Either the x threads share one output and split its
// reduction ("row" mode, used when the reduced elements are adjacent in memory, so a warp reads
// them coalesced) or the x threads take adjacent outputs and the y threads split the reduction
// ("column" mode, used when the outputs are adjacent in memory). Each thread sums a strided share,
// then the block combines the shares in shared memory with a tree. When there are too few outputs
// to fill the GPU, grid.y splits every reduction into chunks whose partial sums go to a scratch
// buffer that a second kernel adds up in a fixed order, so results are deterministic.
#include "cuda_utils.cuh"
#include "reduce.h"

namespace torchext::cuda {
namespace {

// Blocks we aim for (a few waves over an H100's 132 SMs) before splitting reductions further.
constexpr int64_t kTargetBlocks = 1024;
// A split gets at least this many elements per thread.
constexpr int64_t kMinPerThread = 16;

struct SumPlan {
  bool row;          // x threads share an output
  int bx, by;        // block shape, bx * by == kBlock, both powers of two
  int64_t blocks_x;  // blocks over outputs
  int64_t splits;    // chunks per reduction (grid.y)
  int64_t chunk;     // reduction indices per chunk
};

int64_t pow2_at_least(int64_t n, int64_t cap) {
  int64_t p = 1;
  while (p < n && p < cap) p *= 2;
  return p;
}

SumPlan plan_sum(const StridedIndexer<1>& kept, int64_t n_out, const StridedIndexer<1>& reduced,
                 int64_t n_red) {
  SumPlan p;
  const bool out_adjacent = kept.ndim > 0 && kept.strides[0][kept.ndim - 1] == 1;
  const bool red_adjacent = reduced.ndim > 0 && reduced.strides[0][reduced.ndim - 1] == 1;
  p.row = red_adjacent || !out_adjacent;
  if (p.row) {
    p.bx = static_cast<int>(pow2_at_least(n_red, kBlock));
    p.by = kBlock / p.bx;
  } else {
    p.bx = static_cast<int>(pow2_at_least(n_out, 32));
    p.by = kBlock / p.bx;
  }
  const int64_t outputs_per_block = p.row ? p.by : p.bx;
  const int64_t lanes = p.row ? p.bx : p.by;
  p.blocks_x = ceil_div(n_out, outputs_per_block);
  const int64_t max_splits = std::max<int64_t>(1, n_red / (lanes * kMinPerThread));
  p.splits = std::min({ceil_div(kTargetBlocks, p.blocks_x), max_splits, int64_t{65535}});
  p.chunk = ceil_div(n_red, p.splits);
  return p;
}

template <typename T>
__global__ void sum_kernel(const T* __restrict__ in, StridedIndexer<1> kept, int64_t n_out,
                           StridedIndexer<1> reduced, int64_t n_red, int64_t chunk, bool row,
                           acc_t<T>* __restrict__ partial, T* __restrict__ out, acc_t<T> scale) {
  using A = acc_t<T>;
  __shared__ A shares[kBlock];
  const int tx = threadIdx.x, ty = threadIdx.y, bx = blockDim.x;
  const int lane = row ? tx : ty;
  const int lanes = row ? blockDim.x : blockDim.y;
  const int64_t o = static_cast<int64_t>(blockIdx.x) * (row ? blockDim.y : blockDim.x) + (row ? ty : tx);
  const int64_t r_begin = static_cast<int64_t>(blockIdx.y) * chunk;
  const int64_t r_end = min(n_red, r_begin + chunk);

  A acc = A(0);
  if (o < n_out) {
    const T* base = in + kept.offset(o);
    if (reduced.ndim <= 1) {  // one reduced stride: no index arithmetic per element
      const int64_t stride = reduced.ndim == 1 ? reduced.strides[0][0] : 0;
      for (int64_t r = r_begin + lane; r < r_end; r += lanes) acc += static_cast<A>(base[r * stride]);
    } else {
      for (int64_t r = r_begin + lane; r < r_end; r += lanes)
        acc += static_cast<A>(base[reduced.offset(r)]);
    }
  }
  const int me = ty * bx + tx;
  shares[me] = acc;
  __syncthreads();
  for (int s = lanes / 2; s > 0; s /= 2) {
    if (lane < s) shares[me] += shares[me + (row ? s : s * bx)];
    __syncthreads();
  }
  if (lane == 0 && o < n_out) {
    if (partial != nullptr)
      partial[blockIdx.y * n_out + o] = shares[me];
    else
      out[o] = static_cast<T>(shares[me] * scale);
  }
}

// out[o] = scale * sum over the splits of partial[s][o], in split order.
template <typename T>
__global__ void sum_splits_kernel(const acc_t<T>* __restrict__ partial, int64_t splits,
                                  int64_t n_out, T* __restrict__ out, acc_t<T> scale) {
  for (int64_t o = thread_index(); o < n_out; o += thread_count()) {
    acc_t<T> acc = 0;
    for (int64_t s = 0; s < splits; ++s) acc += partial[s * n_out + o];
    out[o] = static_cast<T>(acc * scale);
  }
}

}  // namespace

template <typename T>
void sum_launch(const T* in, T* out, const StridedIndexer<1>& kept, int64_t n_out,
                const StridedIndexer<1>& reduced, int64_t n_red, double scale) {
  using A = acc_t<T>;
  if (n_out == 0) return;
  const A s = static_cast<A>(scale);
  if (n_red == 0) {  // an empty sum: 0 (times scale, so an empty mean is NaN as in torch)
    sum_splits_kernel<T><<<grid_for(n_out), kBlock, 0, current_stream()>>>(nullptr, 0, n_out, out, s);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return;
  }
  const SumPlan p = plan_sum(kept, n_out, reduced, n_red);
  TORCH_CHECK(p.blocks_x < (int64_t{1} << 31), "torchext.sum: too many outputs for one launch");
  const dim3 grid(static_cast<unsigned>(p.blocks_x), static_cast<unsigned>(p.splits));
  const dim3 block(p.bx, p.by);
  if (p.splits == 1) {
    sum_kernel<T><<<grid, block, 0, current_stream()>>>(in, kept, n_out, reduced, n_red, p.chunk,
                                                        p.row, nullptr, out, s);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
    return;
  }
  auto partial = allocate_scratch<A>(p.splits * n_out);
  A* partial_ptr = static_cast<A*>(partial.get());
  sum_kernel<T><<<grid, block, 0, current_stream()>>>(in, kept, n_out, reduced, n_red, p.chunk,
                                                      p.row, partial_ptr, out, s);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  sum_splits_kernel<T><<<grid_for(n_out), kBlock, 0, current_stream()>>>(partial_ptr, p.splits,
                                                                         n_out, out, s);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
}

#define INSTANTIATE(T)                                                                   \
  template void sum_launch<T>(const T*, T*, const StridedIndexer<1>&, int64_t,           \
                              const StridedIndexer<1>&, int64_t, double);
TORCHEXT_FOR_CUDA_FLOATING_TYPES(INSTANTIATE)
#undef INSTANTIATE

}  // namespace torchext::cuda
