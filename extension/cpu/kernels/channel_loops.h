// Per-channel iteration for normalisation kernels over an input of any rank >= 2 with channels in
// dim 1. Element (o, c, i) lives at (o*C + c)*inner + i. Large planes (inner) are walked plane by
// plane; small planes, 2-D inputs and channels-last tensors (inner == 1) are walked as `outer`
// rows of C*inner contiguous values. Reductions are split into work units fixed by the shape
// alone (not by the thread count, so results are deterministic), whose partials the caller
// combines per channel in unit order.
#pragma once
#include <ATen/Parallel.h>

#include <algorithm>
#include <vector>

#include "../channel_layout.h"
#include "loops.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY {

// About how many values one reduction unit covers: few enough to stay in L1 for a second pass,
// and a channel of a large batch splits into many units, so that few channels still spread
// across threads.
constexpr int64_t kChannelUnit = 4096;
// A row unit spans whole channels making at most this many contiguous values per row, and at
// most this many rows (which bounds how many values each per-column accumulator adds up).
constexpr int64_t kRowTile = 512;
constexpr int64_t kMaxTileRows = 256;

// Reduction units of a plane layout. Each channel has `per_channel` units; unit u covers planes
// [o0, o1) and, within each, values [i0, i1): whole planes grouped when planes are small, a
// segment of one plane when they are large.
struct PlaneUnits {
  int64_t per_channel, planes_per_unit, segments, segment, outer, inner;
  explicit PlaneUnits(const ChannelLayout& L) : outer(L.outer), inner(L.inner) {
    if (inner >= kChannelUnit) {
      segments = (inner + kChannelUnit - 1) / kChannelUnit;
      segment = (inner + segments - 1) / segments;
      planes_per_unit = 1;
      per_channel = outer * segments;
    } else {
      segments = 1;
      segment = inner;
      planes_per_unit = std::max<int64_t>(1, kChannelUnit / std::max<int64_t>(inner, 1));
      per_channel = (outer + planes_per_unit - 1) / planes_per_unit;
    }
  }
  void range(int64_t u, int64_t& o0, int64_t& o1, int64_t& i0, int64_t& i1) const {
    const int64_t p = segments == 1 ? u : u / segments, s = segments == 1 ? 0 : u % segments;
    o0 = p * planes_per_unit;
    o1 = std::min(outer, o0 + planes_per_unit);
    i0 = s * segment;
    i1 = std::min(inner, i0 + segment);
  }
};

// Calls f(k, c, o0, o1, i0, i1) in parallel for every unit k = c * per_channel + u of a plane
// layout.
template <typename F>
void for_each_plane_unit(const ChannelLayout& L, const PlaneUnits& U, const F& f) {
  const int64_t unit_size = U.planes_per_unit * U.segment;
  const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / std::max<int64_t>(unit_size, 1));
  at::parallel_for(0, L.channels * U.per_channel, grain, [&](int64_t b, int64_t e) {
    int64_t c = b / U.per_channel, u = b % U.per_channel;
    for (int64_t k = b; k < e; ++k) {
      int64_t o0, o1, i0, i1;
      U.range(u, o0, o1, i0, i1);
      f(k, c, o0, o1, i0, i1);
      if (++u == U.per_channel) {
        u = 0;
        ++c;
      }
    }
  });
}

// Reduction units of a rows layout: tiles of up to `rows_per_block` rows by `tile_channels`
// whole channels. Partials are kept per (row block, channel).
struct RowUnits {
  int64_t outer, channels, tile_channels, tile_values, tiles, rows_per_block, blocks;
  explicit RowUnits(const ChannelLayout& L) : outer(L.outer), channels(L.channels) {
    const int64_t inner = std::max<int64_t>(L.inner, 1);
    tile_channels = std::max<int64_t>(1, std::min(channels, kRowTile / inner));
    tile_values = tile_channels * inner;
    tiles = (channels + tile_channels - 1) / tile_channels;
    rows_per_block = std::clamp<int64_t>(kChannelUnit / tile_values, 1, kMaxTileRows);
    rows_per_block = std::max<int64_t>(1, std::min(outer, rows_per_block));
    blocks = (outer + rows_per_block - 1) / rows_per_block;
  }
};

// Calls f(block, r0, r1, c0, c1) in parallel for every tile (rows [r0, r1), channels [c0, c1))
// of a rows layout.
template <typename F>
void for_each_row_unit(const RowUnits& U, const F& f) {
  const int64_t grain = std::max<int64_t>(1, kElementwiseGrain / (U.rows_per_block * U.tile_values));
  at::parallel_for(0, U.blocks * U.tiles, grain, [&](int64_t b, int64_t e) {
    for (int64_t k = b; k < e; ++k) {
      const int64_t block = k / U.tiles, c0 = (k % U.tiles) * U.tile_channels;
      const int64_t r0 = block * U.rows_per_block;
      f(block, r0, std::min(U.outer, r0 + U.rows_per_block), c0,
        std::min(U.channels, c0 + U.tile_channels));
    }
  });
}

// Calls f(c, offset, len) in parallel over the whole tensor of a plane layout, in contiguous
// pieces that each lie in one plane (channel c), balanced by element count.
template <typename F>
void for_plane_pieces(const ChannelLayout& L, const F& f) {
  parallel_chunks(L.outer * L.channels * L.inner, [&](int64_t b, int64_t e) {
    int64_t c = (b / L.inner) % L.channels;
    int64_t len = std::min(L.inner - b % L.inner, e - b);
    while (b < e) {
      f(c, b, len);
      b += len;
      c = c + 1 == L.channels ? 0 : c + 1;
      len = std::min(L.inner, e - b);
    }
  });
}

// Calls f(j, offset, len) in parallel over the whole tensor of a rows layout, in contiguous
// pieces that each lie in one row and start at position j of the row, balanced by element count.
template <typename F>
void for_row_pieces(const ChannelLayout& L, const F& f) {
  const int64_t J = L.row_length();
  parallel_chunks(L.outer * J, [&](int64_t b, int64_t e) {
    int64_t j = b % J;
    while (b < e) {
      const int64_t len = std::min(J - j, e - b);
      f(j, b, len);
      b += len;
      j = 0;
    }
  });
}

// A per-channel array repeated for each position of its channel in a row: out[c*inner + i] = v[c].
template <typename T, typename S>
std::vector<T> per_row_position(const ChannelLayout& L, const S* v) {
  std::vector<T> out(L.row_length());
  for (int64_t c = 0; c < L.channels; ++c)
    for (int64_t i = 0; i < L.inner; ++i) out[c * L.inner + i] = T(v[c]);
  return out;
}

// Running count/mean/sum of squared deviations, merged with Chan et al.'s pairwise update:
// M2 = M2_a + M2_b + delta^2 * n_a * n_b / (n_a + n_b).
struct Moments {
  double n = 0, mean = 0, m2 = 0;
  void merge(double nb, double mean_b, double m2_b) {
    if (nb == 0) return;
    if (n == 0) {
      n = nb;
      mean = mean_b;
      m2 = m2_b;
      return;
    }
    const double total = n + nb, delta = mean_b - mean;
    mean += delta * nb / total;
    m2 += m2_b + delta * delta * n * nb / total;
    n = total;
  }
};

}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY
