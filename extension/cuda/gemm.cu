// Tiled shared-memory GEMM (CUDA kernels) with strided, batched operands.
//
// Each block computes a 64 x 64 tile of C: it walks K in steps of 16, staging a 64 x 16 slice of
// A and a 16 x 64 slice of B in shared memory (converted to the accumulate type), and each of its
// 16 x 16 threads accumulates a 4 x 4 grid of C elements (rows ty + 16 i, columns tx + 16 j, so a
// warp's stores to a row-major C are coalesced) with fused multiply-adds. The loads pick their
// thread order from the operand's strides, so that consecutive threads read consecutive memory
// whichever of its two dimensions is the contiguous one.
//
// When the tiles alone cannot fill the GPU and K is long (a convolution's weight gradient, whose
// K is batch x pixels), K is split across grid.z: each split writes its raw sums to a scratch
// buffer and a second kernel adds the splits in a fixed order and applies alpha, beta and bias,
// so results stay deterministic.
#include "cuda_utils.cuh"
#include "gemm.h"

namespace torchext::cuda {
namespace {

constexpr int kTileM = 64, kTileN = 64, kTileK = 16;
constexpr int kThreadsM = 16, kThreadsN = 16;
constexpr int kGemmThreads = kThreadsM * kThreadsN;
constexpr int kMicroM = kTileM / kThreadsM, kMicroN = kTileN / kThreadsN;
static_assert(kTileM * kTileK % kGemmThreads == 0 && kTileN * kTileK % kGemmThreads == 0,
              "every thread loads the same number of elements");

// Split-K only when fewer blocks than this would run (two per SM of an H100), each split taking
// at least kMinSplitK of K, at most kMaxSplits splits and kMaxScratch partial sums.
constexpr int64_t kTargetBlocks = 264;
constexpr int64_t kMinSplitK = 256;
constexpr int64_t kMaxSplits = 64;
constexpr int64_t kMaxScratch = int64_t{1} << 24;
constexpr int64_t kMaxGridY = 65535;

template <typename T, typename CT>
struct GemmArgs {
  GemmProblem<T, CT> p;
  int64_t tiles_m;
  int64_t batch_count;
  int64_t k_chunk;        // K range of one split, a multiple of kTileK
  acc_t<T>* partial;      // split-K: raw sums [split][batch][M][N]; null: finish in place
  acc_t<T> alpha, beta;
};

__device__ __forceinline__ int64_t batch_offset(const MatrixLayout& l, int64_t b0, int64_t b1) {
  return b0 * l.batch[0] + b1 * l.batch[1];
}

// C(i, j) = alpha * sum + beta * C(i, j) + bias(i, j) for one element of batch (b0, b1).
template <typename T, typename CT>
__device__ __forceinline__ void finish_element(const GemmArgs<T, CT>& g, int64_t b0, int64_t b1,
                                               int64_t i, int64_t j, acc_t<T> sum) {
  using A = acc_t<T>;
  const auto& p = g.p;
  CT* c = p.c + batch_offset(p.c_layout, b0, b1) + i * p.c_layout.rs + j * p.c_layout.cs;
  A v = g.alpha * sum;
  if (g.beta != A(0)) v = fused_mul_add(g.beta, static_cast<A>(*c), v);
  if (p.bias != nullptr) {
    const auto& l = p.bias_layout;
    v += static_cast<A>(p.bias[batch_offset(l, b0, b1) + i * l.rs + j * l.cs]);
  }
  *c = static_cast<CT>(v);
}

template <typename T, typename CT>
__global__ void __launch_bounds__(kGemmThreads) gemm_kernel(GemmArgs<T, CT> g) {
  using A = acc_t<T>;
  // +1 column: threads that store down a column of the tile hit different banks.
  __shared__ A a_tile[kTileK][kTileM + 1];
  __shared__ A b_tile[kTileK][kTileN + 1];

  const auto& p = g.p;
  const int tid = threadIdx.x;
  const int tx = tid % kThreadsN, ty = tid / kThreadsN;
  const int64_t row0 = (blockIdx.x % g.tiles_m) * kTileM;
  const int64_t col0 = (blockIdx.x / g.tiles_m) * kTileN;
  const int64_t k_begin = static_cast<int64_t>(blockIdx.z) * g.k_chunk;
  const int64_t k_end = min(p.K, k_begin + g.k_chunk);
  const int64_t a_rs = p.a_layout.rs, a_cs = p.a_layout.cs;
  const int64_t b_rs = p.b_layout.rs, b_cs = p.b_layout.cs;
  // Which dimension consecutive threads walk while loading: the one with the smaller stride.
  const bool a_along_k = a_cs <= a_rs;
  const bool b_along_n = b_cs <= b_rs;

  for (int64_t z = blockIdx.y; z < g.batch_count; z += gridDim.y) {
    const int64_t b0 = z / p.batches[1], b1 = z % p.batches[1];
    const T* a = p.a + batch_offset(p.a_layout, b0, b1);
    const T* b = p.b + batch_offset(p.b_layout, b0, b1);

    A acc[kMicroM][kMicroN];
#pragma unroll
    for (int i = 0; i < kMicroM; ++i)
#pragma unroll
      for (int j = 0; j < kMicroN; ++j) acc[i][j] = A(0);

    for (int64_t k0 = k_begin; k0 < k_end; k0 += kTileK) {
#pragma unroll
      for (int l = 0; l < kTileM * kTileK / kGemmThreads; ++l) {
        const int e = tid + l * kGemmThreads;
        const int mm = a_along_k ? e / kTileK : e % kTileM;
        const int kk = a_along_k ? e % kTileK : e / kTileM;
        const int64_t i = row0 + mm, k = k0 + kk;
        a_tile[kk][mm] = (i < p.M && k < k_end) ? static_cast<A>(a[i * a_rs + k * a_cs]) : A(0);
      }
#pragma unroll
      for (int l = 0; l < kTileN * kTileK / kGemmThreads; ++l) {
        const int e = tid + l * kGemmThreads;
        const int nn = b_along_n ? e % kTileN : e / kTileK;
        const int kk = b_along_n ? e / kTileN : e % kTileK;
        const int64_t j = col0 + nn, k = k0 + kk;
        b_tile[kk][nn] = (j < p.N && k < k_end) ? static_cast<A>(b[k * b_rs + j * b_cs]) : A(0);
      }
      __syncthreads();
#pragma unroll
      for (int kk = 0; kk < kTileK; ++kk) {
        A ra[kMicroM], rb[kMicroN];
#pragma unroll
        for (int i = 0; i < kMicroM; ++i) ra[i] = a_tile[kk][ty + i * kThreadsM];
#pragma unroll
        for (int j = 0; j < kMicroN; ++j) rb[j] = b_tile[kk][tx + j * kThreadsN];
#pragma unroll
        for (int i = 0; i < kMicroM; ++i)
#pragma unroll
          for (int j = 0; j < kMicroN; ++j) acc[i][j] = fused_mul_add(ra[i], rb[j], acc[i][j]);
      }
      __syncthreads();
    }

#pragma unroll
    for (int i = 0; i < kMicroM; ++i) {
      const int64_t gi = row0 + ty + i * kThreadsM;
      if (gi >= p.M) continue;
#pragma unroll
      for (int j = 0; j < kMicroN; ++j) {
        const int64_t gj = col0 + tx + j * kThreadsN;
        if (gj >= p.N) continue;
        if (g.partial != nullptr)
          g.partial[((blockIdx.z * g.batch_count + z) * p.M + gi) * p.N + gj] = acc[i][j];
        else
          finish_element(g, b0, b1, gi, gj, acc[i][j]);
      }
    }
  }
}

// Split-K second pass: adds the splits' sums in split order and finishes every C element.
template <typename T, typename CT>
__global__ void gemm_splits_kernel(GemmArgs<T, CT> g, int64_t splits) {
  using A = acc_t<T>;
  const auto& p = g.p;
  const int64_t per_batch = p.M * p.N;
  const int64_t total = g.batch_count * per_batch;
  for (int64_t idx = thread_index(); idx < total; idx += thread_count()) {
    A sum = A(0);
    for (int64_t s = 0; s < splits; ++s) sum += g.partial[s * total + idx];
    const int64_t z = idx / per_batch, ij = idx % per_batch;
    finish_element(g, z / p.batches[1], z % p.batches[1], ij / p.N, ij % p.N, sum);
  }
}

}  // namespace

template <typename T, typename CT>
void gemm_launch(const GemmProblem<T, CT>& p) {
  using A = acc_t<T>;
  const int64_t batch_count = p.batches[0] * p.batches[1];
  if (p.M == 0 || p.N == 0 || batch_count == 0) return;
  const int64_t tiles_m = ceil_div(p.M, kTileM);
  const int64_t tiles = tiles_m * ceil_div(p.N, kTileN);
  TORCH_CHECK(tiles < (int64_t{1} << 31), "torchext: matrix product of ", p.M, " x ", p.N,
              " is too large for one launch");
  const int64_t blocks = tiles * std::min(batch_count, kMaxGridY);

  int64_t splits = 1;
  if (blocks < kTargetBlocks && p.K >= 2 * kMinSplitK) {
    splits = std::min({ceil_div(kTargetBlocks, blocks), p.K / kMinSplitK, kMaxSplits});
    while (splits > 1 && splits * batch_count * p.M * p.N > kMaxScratch) splits /= 2;
  }
  const int64_t k_chunk = std::max<int64_t>(
      kTileK, ceil_div(ceil_div(p.K, splits), kTileK) * kTileK);
  splits = std::max<int64_t>(1, ceil_div(p.K, k_chunk));

  GemmArgs<T, CT> g{p, tiles_m, batch_count, k_chunk, nullptr, static_cast<A>(p.alpha),
                    static_cast<A>(p.beta)};
  c10::DataPtr scratch;
  if (splits > 1) {
    scratch = allocate_scratch<A>(splits * batch_count * p.M * p.N);
    g.partial = static_cast<A*>(scratch.get());
  }
  const dim3 grid(static_cast<unsigned>(tiles), static_cast<unsigned>(std::min(batch_count, kMaxGridY)),
                  static_cast<unsigned>(splits));
  gemm_kernel<T, CT><<<grid, kGemmThreads, 0, current_stream()>>>(g);
  C10_CUDA_KERNEL_LAUNCH_CHECK();
  if (splits > 1) {
    gemm_splits_kernel<T, CT><<<grid_for(batch_count * p.M * p.N), kBlock, 0, current_stream()>>>(g, splits);
    C10_CUDA_KERNEL_LAUNCH_CHECK();
  }
}

#define INSTANTIATE(T, CT) template void gemm_launch<T, CT>(const GemmProblem<T, CT>&);
INSTANTIATE(float, float)
INSTANTIATE(double, double)
INSTANTIATE(c10::Half, c10::Half)
INSTANTIATE(c10::BFloat16, c10::BFloat16)
INSTANTIATE(c10::Half, float)
INSTANTIATE(c10::BFloat16, float)
#undef INSTANTIATE

}  // namespace torchext::cuda
