// layer_norm's forward and backward loops over M contiguous rows of N values (the normalized
// dims): rows in parallel, each reduced with row_reduce.h and then written from cache.
#include <algorithm>
#include <cmath>
#include <vector>

#include "../layer_norm_dispatch.h"
#include "loops.h"
#include "row_reduce.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY {
namespace {

// Rows per task: about kElementwiseGrain values.
int64_t row_grain(int64_t N) { return std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(N, 1)); }

// Rows per block of the weight/bias gradient partials: fixed by the shape, so the sums' order does
// not depend on the thread count; each column adds at most kMaxBlockRows values in T.
constexpr int64_t kBlockValues = 16384;
constexpr int64_t kMaxBlockRows = 256;

}  // namespace

template <typename T>
void layer_norm(const T* x, const T* weight, const T* bias, int64_t M, int64_t N, double eps,
                T* out, T* mean, T* rstd) {
  at::parallel_for(0, M, row_grain(N), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const T* __restrict__ in = x + r * N;
      T* __restrict__ o = out + r * N;
      double m, var;
      rowred::moments(in, N, m, var);
      // An empty row has no variance: NaN, as native's.
      const double s = N == 0 ? std::nan("") : 1.0 / std::sqrt(std::max(var, 0.0) + eps);
      mean[r] = T(m);
      rstd[r] = T(s);
      const T mt = T(m), st = T(s);
      if (weight && bias) {
        for (int64_t i = 0; i < N; ++i) o[i] = (in[i] - mt) * st * weight[i] + bias[i];
      } else if (weight) {
        for (int64_t i = 0; i < N; ++i) o[i] = (in[i] - mt) * st * weight[i];
      } else if (bias) {
        for (int64_t i = 0; i < N; ++i) o[i] = (in[i] - mt) * st + bias[i];
      } else {
        for (int64_t i = 0; i < N; ++i) o[i] = (in[i] - mt) * st;
      }
    }
  });
}

// With xhat = (x - mean) * rstd and g = dy * weight, per row:
//   dx = rstd * (g - sum(g) / N - xhat * sum(g * xhat) / N),
// and over the rows dweight = sum(dy * xhat), dbias = sum(dy): per-block partials in T, added
// up in double in block order.
template <typename T>
void layer_norm_backward(const T* dy, const T* x, const T* mean, const T* rstd, const T* weight,
                         int64_t M, int64_t N, T* dx, T* dweight, T* dbias) {
  const bool params = dweight || dbias;
  const int64_t rows = std::clamp<int64_t>(kBlockValues / std::max<int64_t>(N, 1), 1, kMaxBlockRows);
  const int64_t blocks = (M + rows - 1) / rows;
  std::vector<T> part_w(params ? blocks * N : 0), part_b(params ? blocks * N : 0);
  const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / (rows * std::max<int64_t>(N, 1)));
  at::parallel_for(0, blocks, grain, [&](int64_t b0, int64_t b1) {
    for (int64_t blk = b0; blk < b1; ++blk) {
      T* __restrict__ pw = params ? part_w.data() + blk * N : nullptr;
      T* __restrict__ pb = params ? part_b.data() + blk * N : nullptr;
      if (params) std::fill(pw, pw + N, T(0)), std::fill(pb, pb + N, T(0));
      for (int64_t r = blk * rows; r < std::min(M, (blk + 1) * rows); ++r) {
        const T* __restrict__ g = dy + r * N;
        const T* __restrict__ v = x + r * N;
        const T m = mean[r], s = rstd[r];
        if (dx) {
          const auto sum = rowred::sums<2, T>(N, [&](int64_t i, auto tag) {
            using V = decltype(tag);
            const V gw = weight ? rowred::load<V>(g + i) * rowred::load<V>(weight + i) : rowred::load<V>(g + i);
            return std::array<V, 2>{gw, gw * ((rowred::load<V>(v + i) - m) * s)};
          });
          const T a = T(sum[0] / double(N)), b = T(sum[1] / double(N));
          T* __restrict__ o = dx + r * N;
          if (weight) {
            for (int64_t i = 0; i < N; ++i) o[i] = s * (g[i] * weight[i] - a - (v[i] - m) * s * b);
          } else {
            for (int64_t i = 0; i < N; ++i) o[i] = s * (g[i] - a - (v[i] - m) * s * b);
          }
        }
        if (params) {
          for (int64_t i = 0; i < N; ++i) {
            pw[i] += g[i] * ((v[i] - m) * s);
            pb[i] += g[i];
          }
        }
      }
    }
  });
  if (!params) return;
  parallel_chunks(N, [&](int64_t j0, int64_t j1) {
    std::vector<double> w(j1 - j0, 0.0), b(j1 - j0, 0.0);
    for (int64_t blk = 0; blk < blocks; ++blk)
      for (int64_t j = j0; j < j1; ++j) {
        w[j - j0] += double(part_w[blk * N + j]);
        b[j - j0] += double(part_b[blk * N + j]);
      }
    for (int64_t j = j0; j < j1; ++j) {
      if (dweight) dweight[j] = T(w[j - j0]);
      if (dbias) dbias[j] = T(b[j - j0]);
    }
  }, std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(blocks, 1)));
}

}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY

TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::LayerNormKernel, layer_norm);
TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::LayerNormBackwardKernel, layer_norm_backward);
