// Elementwise loops in which every element runs through the same machine code wherever it sits.
// A vectorized loop with a scalar remainder rounds the remainder's elements differently (other
// instructions, other FMA contraction), and the remainder's place moves with the chunk and row
// boundaries, which move with the thread count: the result would depend on it. Here each run is
// cut into blocks of a fixed width, every block goes through one non-inlined loop of that width
// (vectorized whole: the width is a multiple of every vector length), and a partial or strided
// block is first copied into stack buffers padded with zeros (their results are dropped).
#pragma once
#include <algorithm>
#include <array>
#include <utility>

#include "elementwise_loop.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY {

// Elements per block: a multiple of every vector length, long enough that the call is amortised,
// short enough that the buffers stay in L1.
constexpr int64_t kBlockWidth = 256;

namespace detail {

template <typename T, size_t N, typename F, size_t... I>
[[gnu::noinline]] void run_block(T* __restrict__ out, const std::array<const T*, N>& in, const F& f,
                                 std::index_sequence<I...>) {
  const std::array<const T*, N> p = in;
  for (int64_t i = 0; i < kBlockWidth; ++i) out[i] = f(p[I][i]...);
}

// buf = m elements of src at the stride, then zeros.
template <typename T>
inline void gather_block(T* __restrict__ buf, const T* src, int64_t stride, int64_t m) {
  for (int64_t i = 0; i < m; ++i) buf[i] = src[i * stride];
  std::fill(buf + m, buf + kBlockWidth, T(0));
}

}  // namespace detail

// n outputs (contiguous) from inputs at in[k] + i * stride[k], block by block.
template <typename T, size_t N, typename F>
void blocked_row(T* out, const std::array<const T*, N>& in, const std::array<int64_t, N>& stride,
                 int64_t n, const F& f) {
  alignas(64) T in_buf[N][kBlockWidth];
  alignas(64) T out_buf[kBlockWidth];
  for (int64_t i = 0; i < n; i += kBlockWidth) {
    const int64_t m = std::min(kBlockWidth, n - i);
    std::array<const T*, N> p;
    for (size_t k = 0; k < N; ++k) {
      if (stride[k] == 1 && m == kBlockWidth) {
        p[k] = in[k] + i;
      } else {
        detail::gather_block(in_buf[k], in[k] + i * stride[k], stride[k], m);
        p[k] = in_buf[k];
      }
    }
    detail::run_block(m == kBlockWidth ? out + i : out_buf, p, f, std::make_index_sequence<N>());
    if (m < kBlockWidth) std::copy_n(out_buf, m, out + i);
  }
}

// for_each_element with blocked rows: the same values whatever the thread count and layout.
template <typename T, size_t N, typename F>
void for_each_element_blocked(const BroadcastLayout<N>& layout, T* out,
                              const std::array<const T*, N>& in, const F& f) {
  for_each_row(layout, out, in,
               [&f](T* o, const std::array<const T*, N>& p, const std::array<int64_t, N>& stride,
                    int64_t n) { blocked_row(o, p, stride, n, f); });
}

}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY
