// Winograd F(m x m, 3x3) convolution on CPU (see winograd.h for the algorithm).
//
// The tiles of all images are taken in blocks of a few GEMM panels. Per block:
//   1. input transform: each (panel of tiles, channel) gathers its tiles' patches and writes
//      V = B^T d B straight into the GEMM's packed-B layout, one panel per transformed position;
//   2. one GEMM per transformed position xi: M[xi] = U[xi] @ V[xi] (gemm_prepacked_b);
//   3. output transform: Y = A^T M A per (output channel, panel of tiles), scattered to NCHW.
// The filters are transformed (U = G g G^T) a block of output channels at a time, the block as
// large as kFilterBytes allows: once per call when U fits, else once per block of tiles, so that
// U never takes more memory than that (at 512 channels it would be 36 MB for F(4x4,3x3)).
//
// The weight gradient is the same algorithm turned around (the transposition principle: the
// gradient of Y = A^T [U (.) V] A with respect to g): per block, the input transform above and
// Go = A grad_out_tile A^T, then per position xi one GEMM summing over the block's tiles,
//   dU[xi] (C x K) += V[xi] (C x tiles) @ Go[xi]^T (tiles x K),
// and at the end grad_weight = G^T dU G for every filter; dU, too, is held a block of output
// channels at a time (the input transform then runs once per block). Every transform is vectorized across
// tiles (or filters): a panel's tiles are the lanes, so the transforms are plain vector adds and
// FMAs with the matrices' coefficients folded in at compile time.
#include "winograd.h"

#include <ATen/Parallel.h>

#include <algorithm>
#include <type_traits>
#include <vector>

#include "gemm.h"
#include "gemm_simd.h"
#include "workspace.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY {
namespace {

using gemm_detail::Simd;

// The transform matrices. F(2x2,3x3): interpolation points 0, 1, -1, infinity (Lavin's). F(4x4,3x3):
// points 0, -1, 1, 1/2, -2, infinity, whose transforms round less than the usual 0, 1, -1, 2, -2
// (Barabasz et al., "Error Analysis and Improving the Accuracy of Winograd Convolution", 2020): in
// float32 about 0.6x the usual points' error on ResNet's layer shapes.
template <int m>
struct Transforms;

template <>
struct Transforms<2> {
  static constexpr int alpha = 4;
  static constexpr double BT[4][4] = {{1, 0, -1, 0}, {0, 1, 1, 0}, {0, -1, 1, 0}, {0, 1, 0, -1}};
  static constexpr double G[4][3] = {{1, 0, 0}, {0.5, 0.5, 0.5}, {0.5, -0.5, 0.5}, {0, 0, 1}};
  static constexpr double AT[2][4] = {{1, 1, 1, 0}, {0, 1, -1, -1}};
  static constexpr double A[4][2] = {{1, 0}, {1, 1}, {1, -1}, {0, -1}};
  static constexpr double GT[3][4] = {{1, 0.5, 0.5, 0}, {0, 0.5, -0.5, 0}, {0, 0.5, 0.5, 1}};
};

template <>
struct Transforms<4> {
  static constexpr int alpha = 6;
  static constexpr double BT[6][6] = {
      {1, -1.5, -2, 1.5, 1, 0}, {0, 1, -2.5, 0.5, 1, 0}, {0, -1, 0.5, 2.5, 1, 0},
      {0, -2, -1, 2, 1, 0},     {0, 0.5, -1, -0.5, 1, 0}, {0, 1, -1.5, -2, 1.5, 1}};
  static constexpr double G[6][3] = {{1, 0, 0},
                                     {-1.0 / 3, 1.0 / 3, -1.0 / 3},
                                     {1.0 / 3, 1.0 / 3, 1.0 / 3},
                                     {-16.0 / 15, -8.0 / 15, -4.0 / 15},
                                     {1.0 / 15, -2.0 / 15, 4.0 / 15},
                                     {0, 0, 1}};
  static constexpr double AT[4][6] = {
      {1, 1, 1, 1, 1, 0}, {0, -1, 1, 0.5, -2, 0}, {0, 1, 1, 0.25, 4, 0}, {0, -1, 1, 0.125, -8, 1}};
  static constexpr double A[6][4] = {{1, 0, 0, 0}, {1, -1, 1, -1}, {1, 1, 1, 1},
                                     {1, 0.5, 0.25, 0.125}, {1, -2, 4, -8}, {0, 0, 0, 1}};
  static constexpr double GT[3][6] = {{1, -1.0 / 3, 1.0 / 3, -16.0 / 15, 1.0 / 15, 0},
                                      {0, 1.0 / 3, 1.0 / 3, -8.0 / 15, -2.0 / 15, 0},
                                      {0, -1.0 / 3, 1.0 / 3, -4.0 / 15, 4.0 / 15, 1}};
};

// out = M in for a constant matrix M (rows x cols) and vectors in/out. Fully unrolled, so each
// coefficient is a constant: zeros cost nothing, +-1 an add or subtract, others one FMA.
template <typename T, int rows, int cols>
inline void apply(const double (&M)[rows][cols], const typename Simd<T>::V (&in)[cols],
                  typename Simd<T>::V (&out)[rows]) {
  using S = Simd<T>;
#pragma GCC unroll 8
  for (int i = 0; i < rows; ++i) {
    typename S::V acc = S::zero();
    bool first = true;
#pragma GCC unroll 8
    for (int j = 0; j < cols; ++j) {
      const double c = M[i][j];
      if (c == 0) continue;
      if (first) {
        acc = c == 1 ? in[j] : S::mul(S::set1(T(c)), in[j]);
      } else if (c == 1) {
        acc = S::add(acc, in[j]);
      } else if (c == -1) {
        acc = S::sub(acc, in[j]);
      } else {
        acc = S::fmadd(S::set1(T(c)), in[j], acc);
      }
      first = false;
    }
    out[i] = acc;
  }
}

// Y = L X R^T for vectors X (a x b), constant L (p x a) and R (q x b): the 2-D transforms
// (B^T d B, G g G^T, A^T M A) as rows first, then columns. X arrives a row at a time from
// load_row(i, row) and Y leaves a value at a time through store(i, j, value), so only one row
// of X and the a x q intermediate are live.
template <typename T, int p, int a, int q, int b, typename Load, typename Store>
inline void transform_2d(const double (&L)[p][a], const double (&R)[q][b], const Load& load_row,
                         const Store& store) {
  using V = typename Simd<T>::V;
  V rows[a][q];
#pragma GCC unroll 8
  for (int i = 0; i < a; ++i) {
    V x[b];
    load_row(i, x);
    apply<T>(R, x, rows[i]);
  }
#pragma GCC unroll 8
  for (int j = 0; j < q; ++j) {
    V column[a], result[p];
#pragma GCC unroll 8
    for (int i = 0; i < a; ++i) column[i] = rows[i][j];
    apply<T>(L, column, result);
#pragma GCC unroll 8
    for (int i = 0; i < p; ++i) store(i, j, result[i]);
  }
}

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#define TORCHEXT_TILE_ROWS 1
// Moving tile rows between memory and lanes. A float vector is made of 128-bit groups of 4 lanes
// (2 on AVX2, 4 on AVX-512); four vectors whose group g holds 4 consecutive values of tile
// q + 4g (q = 0..3), transposed within each group, hold value j of tiles 0, 1, ..., W-1 in vector
// j, in lane order. So a patch row of W tiles is W unaligned 128-bit loads and 8 shuffles per 4
// values, instead of 4W scalar copies; output rows go back the same way.
struct TileRows {
#if defined(__AVX512F__)
  using V = __m512;
  static V join(__m128 g0, __m128 g1, __m128 g2, __m128 g3) {
    V v = _mm512_castps128_ps512(g0);
    v = _mm512_insertf32x4(v, g1, 1);
    v = _mm512_insertf32x4(v, g2, 2);
    return _mm512_insertf32x4(v, g3, 3);
  }
  // Values offset .. offset + 3 (Load4) or offset, offset + 1 (Load2) of tiles q, q + 4, ...
  template <typename Load>
  static V load(const float* const* p, int q, int64_t offset, const Load& part) {
    return join(part(p[q] + offset), part(p[q + 4] + offset), part(p[q + 8] + offset), part(p[q + 12] + offset));
  }
  static __m128 group(V v, int g) {
    switch (g) {
      case 0: return _mm512_castps512_ps128(v);
      case 1: return _mm512_extractf32x4_ps(v, 1);
      case 2: return _mm512_extractf32x4_ps(v, 2);
      default: return _mm512_extractf32x4_ps(v, 3);
    }
  }
  static V unpacklo(V a, V b) { return _mm512_unpacklo_ps(a, b); }
  static V unpackhi(V a, V b) { return _mm512_unpackhi_ps(a, b); }
  template <int imm>
  static V shuffle(V a, V b) { return _mm512_shuffle_ps(a, b, imm); }
#else
  using V = __m256;
  template <typename Load>
  static V load(const float* const* p, int q, int64_t offset, const Load& part) {
    return _mm256_set_m128(part(p[q + 4] + offset), part(p[q] + offset));
  }
  static __m128 group(V v, int g) { return g == 0 ? _mm256_castps256_ps128(v) : _mm256_extractf128_ps(v, 1); }
  static V unpacklo(V a, V b) { return _mm256_unpacklo_ps(a, b); }
  static V unpackhi(V a, V b) { return _mm256_unpackhi_ps(a, b); }
  template <int imm>
  static V shuffle(V a, V b) { return _mm256_shuffle_ps(a, b, imm); }
#endif
  static constexpr int groups = sizeof(V) / 16;
  static __m128 four(const float* p) { return _mm_loadu_ps(p); }
  static __m128 two(const float* p) { return _mm_castpd_ps(_mm_load_sd(reinterpret_cast<const double*>(p))); }
  // Values offset .. (4 of them, or 2 with Load = two) of tiles 0 .. W-1 (row pointers p), one
  // vector per value, tiles in lane order.
  template <typename Load>
  static void columns(const float* const* p, int64_t offset, const Load& part, V (&q)[4]) {
    for (int r = 0; r < 4; ++r) q[r] = load(p, r, offset, part);
    transpose4(q[0], q[1], q[2], q[3]);
  }
  // Within each 128-bit group: rows a, b, c, d become columns.
  static void transpose4(V& a, V& b, V& c, V& d) {
    const V ab_lo = unpacklo(a, b), ab_hi = unpackhi(a, b), cd_lo = unpacklo(c, d), cd_hi = unpackhi(c, d);
    a = shuffle<_MM_SHUFFLE(1, 0, 1, 0)>(ab_lo, cd_lo);
    b = shuffle<_MM_SHUFFLE(3, 2, 3, 2)>(ab_lo, cd_lo);
    c = shuffle<_MM_SHUFFLE(1, 0, 1, 0)>(ab_hi, cd_hi);
    d = shuffle<_MM_SHUFFLE(3, 2, 3, 2)>(ab_hi, cd_hi);
  }
};
#endif

struct Filters {
  static constexpr const char* name = "winograd filters";
};
struct Padded {
  static constexpr const char* name = "winograd padded input";
};
struct PaddedGradient {
  static constexpr const char* name = "winograd padded output gradient";
};
struct Inputs {
  static constexpr const char* name = "winograd transformed inputs";
};
struct Products {
  static constexpr const char* name = "winograd products";
};

// Bytes of transformed inputs and products held for one block of tiles: their GEMMs then read
// and write L3-resident data rather than main memory.
constexpr int64_t kBlockBytes = int64_t(4) << 20;
// The GEMM reads U in place (no packing) while its C is at most this many panels wide.
constexpr int64_t kMaxBlockPanels = 8;
// Bytes of transformed filters (U, or dU for the weight gradient) held at once.
constexpr int64_t kFilterBytes = int64_t(8) << 20;

// One tile: where its patch starts in the padded input (image, channel 0) and its output in the
// output (image, channel 0), and whether all m x m of its outputs lie inside the plane.
struct Tile {
  int64_t in, out;
  bool whole;
};

template <typename T, int m>
class Winograd {
  using S = Simd<T>;
  using V = typename S::V;
  using F = Transforms<m>;
  static constexpr int alpha = F::alpha, positions = alpha * alpha;
  static constexpr int W = S::W, NR = kGemmPanelWidth<T>, NV = NR / W;

 public:
  explicit Winograd(const WinogradShape& s) : s_(s) {
    tiles_y_ = (s.out_h + m - 1) / m;
    tiles_x_ = (s.out_w + m - 1) / m;
    tiles_ = s.batch * tiles_y_ * tiles_x_;
    // The padded input covers every tile's patch: tiles * m + 2 rows and columns.
    padded_h_ = tiles_y_ * m + 2;
    padded_w_ = tiles_x_ * m + 2;
    const int64_t per_panel = positions * (s.in_channels + s.out_channels) * NR * int64_t(sizeof(T));
    const int64_t most = std::clamp<int64_t>(kBlockBytes / per_panel, 1, kMaxBlockPanels);
    const int64_t panels = (tiles_ + NR - 1) / NR;
    const int64_t blocks = (panels + most - 1) / most;
    block_panels_ = (panels + blocks - 1) / blocks;  // blocks evened out
    const int64_t per_channel = positions * s.in_channels * int64_t(sizeof(T));
    const int64_t k_blocks = std::max<int64_t>(1, (s.out_channels * per_channel + kFilterBytes - 1) / kFilterBytes);
    k_block_ = (s.out_channels + k_blocks - 1) / k_blocks;  // evened out
    // Tiles run in (image, tile row, tile column) order, so a block of them spans this many
    // images at most: only those are zero-padded at a time.
    const int64_t per_image = std::max<int64_t>(1, tiles_y_ * tiles_x_);
    block_images_ = std::min<int64_t>(s.batch, (block_panels_ * NR - 1) / per_image + 2);
  }

  void run(const T* x, const T* weight, bool transposed, const T* bias, T* out) const {
    const int64_t C = s_.in_channels, K = s_.out_channels, block = block_panels_ * NR, kb = k_block_;
    T* U = thread_workspace<Filters, T>(positions * kb * C);
    T* padded = thread_workspace<Padded, T>(block_images_ * C * padded_h_ * padded_w_);
    T* Vp = thread_workspace<Inputs, T>(positions * C * block);
    T* M = thread_workspace<Products, T>(positions * kb * block);
    const bool filters_once = kb == K;
    if (filters_once) transform_filters(weight, transposed, 0, K, U);
    std::vector<Tile> tiles(block);
    for (int64_t t0 = 0; t0 < tiles_; t0 += block) {
      const int64_t count = std::min(block, tiles_ - t0), panels = (count + NR - 1) / NR;
      const int64_t n0 = pad_input(x, t0, count, padded);
      for (int64_t t = 0; t < block; ++t) tiles[t] = tile(t0 + std::min(t, count - 1), n0);
      at::parallel_for(0, panels * C, 1, [&](int64_t lo, int64_t hi) {
        for (int64_t i = lo; i < hi; ++i) transform_inputs(padded, tiles.data(), i / C, i % C, Vp);
      });
      for (int64_t k0 = 0; k0 < K; k0 += kb) {
        const int64_t kn = std::min(kb, K - k0);
        if (!filters_once) transform_filters(weight, transposed, k0, kn, U);
        // U[xi] is kn x C, row-major from a forward weight, column-major from a transposed one.
        const int64_t u_rs = transposed ? 1 : C, u_cs = transposed ? kn : 1;
        at::parallel_for(0, positions, 1, [&](int64_t lo, int64_t hi) {
          for (int64_t xi = lo; xi < hi; ++xi)
            gemm_prepacked_b<T>(kn, count, C, T(1), U + xi * kn * C, u_rs, u_cs, Vp + xi * C * block,
                                T(0), M + xi * kn * block, block);
        });
        at::parallel_for(0, kn * panels, 1, [&](int64_t lo, int64_t hi) {
          for (int64_t i = lo; i < hi; ++i)
            transform_outputs(M, kn, block, tiles.data(), count, k0, i / panels, i % panels, bias, out);
        });
      }
    }
  }

  // grad_weight = the weight gradient of the forward convolution over x with grad_out.
  void run_weight_grad(const T* x, const T* grad_out, T* grad_weight) const {
    const int64_t C = s_.in_channels, K = s_.out_channels, block = block_panels_ * NR, kb = k_block_;
    // grad_out in whole tiles: zeros past the plane's bottom and right edges.
    const int64_t go_h = tiles_y_ * m, go_w = tiles_x_ * m;
    T* dU = thread_workspace<Filters, T>(positions * kb * C);
    T* padded = thread_workspace<Padded, T>(block_images_ * C * padded_h_ * padded_w_);
    T* go_padded = thread_workspace<PaddedGradient, T>(block_images_ * kb * go_h * go_w);
    T* Vr = thread_workspace<Inputs, T>(positions * C * block);
    T* Go = thread_workspace<Products, T>(positions * kb * block);
    const int64_t out_plane = s_.out_h * s_.out_w;
    std::vector<Tile> tiles(block);
    for (int64_t k0 = 0; k0 < K; k0 += kb) {  // dU of output channels k0 .. k0 + kn
      const int64_t kn = std::min(kb, K - k0);
      for (int64_t t0 = 0; t0 < tiles_; t0 += block) {
        const int64_t count = std::min(block, tiles_ - t0), panels = (count + NR - 1) / NR;
        const int64_t n0 = pad_input(x, t0, count, padded);
        // go_padded[n - n0][k] = grad_out[n][k0 + k] in whole tiles, for the block's images n.
        for (int64_t n = n0; n <= (t0 + count - 1) / (tiles_y_ * tiles_x_); ++n)
          pad_planes(grad_out + (n * K + k0) * out_plane, kn, s_.out_h, s_.out_w, 0, 0, go_h, go_w,
                     go_padded + (n - n0) * kn * go_h * go_w);
        for (int64_t t = 0; t < block; ++t) tiles[t] = tile(t0 + std::min(t, count - 1), n0);
        at::parallel_for(0, panels * C, 1, [&](int64_t lo, int64_t hi) {
          for (int64_t i = lo; i < hi; ++i) transform_inputs(padded, tiles.data(), i / C, i % C, Vr, false);
        });
        at::parallel_for(0, panels * kn, 1, [&](int64_t lo, int64_t hi) {
          for (int64_t i = lo; i < hi; ++i)
            transform_gradients(go_padded, go_w, tiles.data(), n0, i / kn, kn, i % kn, Go);
        });
        // Only the block's real tiles are summed (the lanes past `count` repeat the last tile).
        at::parallel_for(0, positions, 1, [&](int64_t lo, int64_t hi) {
          for (int64_t xi = lo; xi < hi; ++xi)
            gemm<T>(C, kn, count, T(1), Vr + xi * C * block, block, 1, Go + xi * kn * block, 1, block,
                    t0 == 0 ? T(0) : T(1), dU + xi * C * kn, kn, 1);
        });
      }
      inverse_transform_filters(dU, k0, kn, grad_weight);
    }
  }

 private:
  // Go = A go A^T for the tiles of one panel and channel k of go_padded (the kn channels of
  // grad_out it holds for images n0, ..., padded to whole tiles, rows of go_w), as rows of tiles.
  void transform_gradients(const T* go_padded, int64_t go_w, const Tile* tiles, int64_t n0, int64_t panel,
                           int64_t kn, int64_t k, T* Go) const {
    const int64_t K = s_.out_channels, block = block_panels_ * NR;
    const int64_t go_plane = tiles_y_ * m * go_w, image = kn * go_plane;
    const T* channel = go_padded + k * go_plane;
    for (int v = 0; v < NV; ++v) {
      const Tile* lanes = tiles + panel * NR + v * W;
      T* dst = Go + k * block + panel * NR + v * W;
      // A tile's top-left corner within its plane (Tile::out is in the unpadded output).
      const int64_t out_image = K * s_.out_h * s_.out_w;
      auto corner = [&](const Tile& t) {
        const int64_t n = t.out / out_image - n0, at = t.out % out_image;
        return n * image + at / s_.out_w * go_w + at % s_.out_w;
      };
      auto store = [&](int a, int b, V value) { S::storeu(dst + (a * alpha + b) * kn * block, value); };
#ifdef TORCHEXT_TILE_ROWS
      if constexpr (std::is_same_v<T, float>) {
        const float* rows[W];
        for (int lane = 0; lane < W; ++lane) rows[lane] = channel + corner(lanes[lane]);
        transform_2d<T>(
            F::A, F::A, [&](int i, V (&row)[m]) {
              const int64_t offset = i * go_w;
              auto part = m == 4 ? TileRows::four : TileRows::two;
              V q[4];
              TileRows::columns(rows, offset, part, q);
              for (int j = 0; j < m; ++j) row[j] = q[j];
            },
            store);
        continue;
      }
#endif
      alignas(64) T values[m][W];
      transform_2d<T>(
          F::A, F::A, [&](int i, V (&row)[m]) {
            for (int lane = 0; lane < W; ++lane)
              for (int j = 0; j < m; ++j) values[j][lane] = channel[corner(lanes[lane]) + i * go_w + j];
            for (int j = 0; j < m; ++j) row[j] = S::load(values[j]);
          },
          store);
    }
  }

  // grad_weight[k0 + k][c] = G^T dU[.][c][k] G for the kn output channels from k0 that dU holds,
  // W filters (consecutive k) at a time.
  void inverse_transform_filters(const T* dU, int64_t k0, int64_t kn, T* grad_weight) const {
    const int64_t C = s_.in_channels, filters = C * kn;
    const int64_t vectors = (filters + W - 1) / W;
    at::parallel_for(0, vectors, 64, [&](int64_t lo, int64_t hi) {
      for (int64_t v = lo; v < hi; ++v) {
        const int64_t f0 = v * W;  // dU's filter index c*kn + k
        const int lanes = static_cast<int>(std::min<int64_t>(W, filters - f0));
        alignas(64) T taps[9][W];
        transform_2d<T>(
            F::GT, F::GT, [&](int a, V (&row)[alpha]) {
              for (int b = 0; b < alpha; ++b) {
                const T* src = dU + (a * alpha + b) * filters + f0;
                row[b] = lanes == W ? S::loadu(src) : S::loadu_n(src, lanes);
              }
            },
            [&](int i, int j, V value) { S::storeu(taps[i * 3 + j], value); });
        for (int l = 0; l < lanes; ++l) {
          const int64_t c = (f0 + l) / kn, k = k0 + (f0 + l) % kn;
          for (int tap = 0; tap < 9; ++tap) grad_weight[(k * C + c) * 9 + tap] = taps[tap][l];
        }
      }
    });
  }

  // Tile t of the flattened (image, tile row, tile column) order, its patch in the padded images
  // from n0.
  Tile tile(int64_t t, int64_t n0) const {
    const int64_t per_image = tiles_y_ * tiles_x_, n = t / per_image, r = t % per_image;
    const int64_t y = r / tiles_x_ * m, x = r % tiles_x_ * m;
    return {(n - n0) * s_.in_channels * padded_h_ * padded_w_ + y * padded_w_ + x,
            n * s_.out_channels * s_.out_h * s_.out_w + y * s_.out_w + x,
            y + m <= s_.out_h && x + m <= s_.out_w};
  }

  // padded[plane] = the planes x[plane] (height x width) at (top, left) in zeros of
  // padded_h x padded_w (cropped where they reach past it), so that tiles read without bounds
  // checks.
  static void pad_planes(const T* x, int64_t planes, int64_t height, int64_t width, int64_t top,
                         int64_t left, int64_t padded_h, int64_t padded_w, T* padded) {
    const int64_t y_end = std::min(height, padded_h - top), x_end = std::min(width, padded_w - left);
    at::parallel_for(0, planes, 16, [&](int64_t lo, int64_t hi) {
      for (int64_t plane = lo; plane < hi; ++plane) {
        const T* src = x + plane * height * width;
        T* dst = padded + plane * padded_h * padded_w;
        for (int64_t y = 0; y < padded_h; ++y) {
          T* row = dst + y * padded_w;
          const int64_t iy = y - top;
          if (iy < 0 || iy >= y_end) {
            std::fill_n(row, padded_w, T(0));
            continue;
          }
          const T* in = src + iy * width;
          for (int64_t xx = 0; xx < left; ++xx) row[xx] = T(0);
          for (int64_t xx = 0; xx < x_end; ++xx) row[left + xx] = in[xx];
          for (int64_t xx = left + x_end; xx < padded_w; ++xx) row[xx] = T(0);
        }
      }
    });
  }

  // padded = the images of x that tiles t0 .. t0 + count - 1 read; returns the first of them.
  int64_t pad_input(const T* x, int64_t t0, int64_t count, T* padded) const {
    const int64_t per_image = tiles_y_ * tiles_x_, n0 = t0 / per_image, n1 = (t0 + count - 1) / per_image;
    const int64_t C = s_.in_channels;
    pad_planes(x + n0 * C * s_.height * s_.width, (n1 - n0 + 1) * C, s_.height, s_.width, s_.pad_top,
               s_.pad_left, padded_h_, padded_w_, padded);
    return n0;
  }

  // U[xi][j] = (G g G^T)[xi] for the filters g(k, c) of the kn output channels k from k0: j =
  // (k - k0)*C + c, or (k - k0) + c*kn when transposed (the weight's own order when kn = K), W
  // filters at a time: their 9 taps gathered into lanes, then one vector transform.
  void transform_filters(const T* weight, bool transposed, int64_t k0, int64_t kn, T* U) const {
    const int64_t C = s_.in_channels, K = s_.out_channels, filters = C * kn;
    const int64_t vectors = (filters + W - 1) / W;
    // The weight's filter index of U's filter j.
    auto filter = [&](int64_t j) { return transposed ? j / kn * K + k0 + j % kn : k0 * C + j; };
    at::parallel_for(0, vectors, 64, [&](int64_t lo, int64_t hi) {
      for (int64_t v = lo; v < hi; ++v) {
        const int64_t f0 = v * W;
        const int lanes = static_cast<int>(std::min<int64_t>(W, filters - f0));
        alignas(64) T taps[9][W] = {};
        for (int l = 0; l < lanes; ++l) {
          const T* g = weight + filter(f0 + l) * 9;
          for (int tap = 0; tap < 9; ++tap) taps[tap][l] = g[transposed ? 8 - tap : tap];
        }
        transform_2d<T>(
            F::G, F::G, [&](int i, V (&row)[3]) {
              for (int j = 0; j < 3; ++j) row[j] = S::load(taps[i * 3 + j]);
            },
            [&](int a, int b, V u) {
              T* dst = U + (a * alpha + b) * filters + f0;
              if (lanes == W) {
                S::storeu(dst, u);
              } else {
                S::storeu_n(dst, u, lanes);
              }
            });
      }
    });
  }

  // V = B^T d B for the tiles of one panel and one channel: into each position's packed GEMM
  // panel (packed) or, for the weight gradient, a row of tiles per channel.
  void transform_inputs(const T* padded, const Tile* tiles, int64_t panel, int64_t c, T* Vp, bool packed = true) const {
    const int64_t C = s_.in_channels, block = block_panels_ * NR, PW = padded_w_;
    const T* channel = padded + c * padded_h_ * PW;
    for (int v = 0; v < NV; ++v) {
      const Tile* lanes = tiles + panel * NR + v * W;
      T* dst = Vp + (packed ? (panel * C + c) * NR : c * block + panel * NR) + v * W;
      auto store = [&](int a, int b, V value) { S::storeu(dst + (a * alpha + b) * C * block, value); };
#ifdef TORCHEXT_TILE_ROWS
      if constexpr (std::is_same_v<T, float>) {
        const float* rows[W];
        for (int lane = 0; lane < W; ++lane) rows[lane] = channel + lanes[lane].in;
        transform_2d<T>(
            F::BT, F::BT, [&](int r, V (&row)[alpha]) {
              const int64_t offset = r * PW;
              V q[4];
              TileRows::columns(rows, offset, TileRows::four, q);
              for (int col = 0; col < 4; ++col) row[col] = q[col];
              if constexpr (alpha == 6) {  // values 4 and 5 of the row
                V h[4];
                TileRows::columns(rows, offset + 4, TileRows::two, h);
                row[4] = h[0];
                row[5] = h[1];
              }
            },
            store);
        continue;
      }
#endif
      alignas(64) T values[alpha][W];
      transform_2d<T>(
          F::BT, F::BT, [&](int r, V (&row)[alpha]) {
            for (int lane = 0; lane < W; ++lane)
              for (int col = 0; col < alpha; ++col) values[col][lane] = channel[lanes[lane].in + r * PW + col];
            for (int col = 0; col < alpha; ++col) row[col] = S::load(values[col]);
          },
          store);
    }
  }

  // out = A^T M A (+ bias) for output channel k0 + k and one panel of tiles, each tile's m x m
  // values stored where they lie inside the output; M holds the kn channels from k0.
  void transform_outputs(const T* M, int64_t kn, int64_t block, const Tile* tiles, int64_t count, int64_t k0,
                         int64_t k, int64_t panel, const T* bias, T* out) const {
    T* channel = out + (k0 + k) * s_.out_h * s_.out_w;
    const V b = S::set1(bias ? bias[k0 + k] : T(0));
    for (int v = 0; v < NV; ++v) {
      const int64_t first = panel * NR + v * W;
      if (first >= count) break;
      const T* src = M + k * block + first;
      V y[m][m];
      transform_2d<T>(
          F::AT, F::AT, [&](int a, V (&row)[alpha]) {
            for (int c = 0; c < alpha; ++c) row[c] = S::loadu(src + (a * alpha + c) * kn * block);
          },
          [&](int i, int j, V value) { y[i][j] = bias ? S::add(value, b) : value; });
      store_tiles(y, tiles + first, std::min<int64_t>(W, count - first), channel);
    }
  }

  // Each of the first `valid` tiles' m x m values (lane = tile) where they lie inside the plane.
  void store_tiles(const V (&y)[m][m], const Tile* tiles, int64_t valid, T* channel) const {
    const int64_t OW = s_.out_w;
    alignas(64) T values[W][m][4];  // a lane's tile, when not stored in place
#ifdef TORCHEXT_TILE_ROWS
    if constexpr (std::is_same_v<T, float>) {
      for (int i = 0; i < m; ++i) {
        V q[4];
        for (int j = 0; j < 4; ++j) q[j] = j < m ? y[i][j] : S::zero();
        TileRows::transpose4(q[0], q[1], q[2], q[3]);
        for (int g = 0; g < TileRows::groups; ++g)
          for (int r = 0; r < 4; ++r) {
            const int lane = r + 4 * g;
            if (lane >= valid) continue;
            float* dst = tiles[lane].whole ? channel + tiles[lane].out + i * OW : values[lane][i];
            if constexpr (m == 4) {
              _mm_storeu_ps(dst, TileRows::group(q[r], g));
            } else {
              _mm_storel_pi(reinterpret_cast<__m64*>(dst), TileRows::group(q[r], g));
            }
          }
      }
    } else
#endif
    {
      alignas(64) T lanes[m][m][W];
      for (int i = 0; i < m; ++i)
        for (int j = 0; j < m; ++j) S::storeu(lanes[i][j], y[i][j]);
      for (int lane = 0; lane < valid; ++lane)
        for (int i = 0; i < m; ++i)
          for (int j = 0; j < m; ++j) values[lane][i][j] = lanes[i][j][lane];
    }
    // Tiles at the bottom or right edge: only their values inside the plane.
    const int64_t OH = s_.out_h, image_stride = s_.out_channels * OH * OW;
    for (int lane = 0; lane < valid; ++lane) {
      const Tile& t = tiles[lane];
#ifdef TORCHEXT_TILE_ROWS
      if (std::is_same_v<T, float> && t.whole) continue;
#endif
      const int64_t y = t.out % image_stride / OW, x = t.out % OW;
      const int64_t rows = std::min<int64_t>(m, OH - y), cols = std::min<int64_t>(m, OW - x);
      T* dst = channel + t.out;
      for (int64_t i = 0; i < rows; ++i)
        for (int64_t j = 0; j < cols; ++j) dst[i * OW + j] = values[lane][i][j];
    }
  }

  WinogradShape s_;
  // k_block_: output channels whose transformed filters are held at once (kFilterBytes).
  // block_images_: the most images a block of tiles spans (the padded buffers' capacity).
  int64_t tiles_y_, tiles_x_, tiles_, padded_h_, padded_w_, block_panels_, k_block_, block_images_;
};

}  // namespace

template <typename T>
void winograd_conv3x3(const WinogradShape& s, int tile, const T* x, const T* weight, bool transposed,
                      const T* bias, T* out) {
  if (tile == 4) {
    Winograd<T, 4>(s).run(x, weight, transposed, bias, out);
  } else {
    Winograd<T, 2>(s).run(x, weight, transposed, bias, out);
  }
}

template <typename T>
void winograd_weight_grad3x3(const WinogradShape& s, int tile, const T* x, const T* grad_out, T* grad_weight) {
  if (tile == 4) {
    Winograd<T, 4>(s).run_weight_grad(x, grad_out, grad_weight);
  } else {
    Winograd<T, 2>(s).run_weight_grad(x, grad_out, grad_weight);
  }
}

template void winograd_weight_grad3x3<float>(const WinogradShape&, int, const float*, const float*, float*);
template void winograd_weight_grad3x3<double>(const WinogradShape&, int, const double*, const double*, double*);
template void winograd_conv3x3<float>(const WinogradShape&, int, const float*, const float*, bool,
                                      const float*, float*);
template void winograd_conv3x3<double>(const WinogradShape&, int, const double*, const double*, bool,
                                       const double*, double*);

}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY
