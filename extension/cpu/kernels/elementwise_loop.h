// CPU iteration for elementwise kernels: out[i] = f(in_0[..], ..., in_{N-1}[..]) over every element
// of a broadcast shape, the output contiguous. The layout (../broadcast_layout.h) has size-1 dims
// dropped and neighbouring dims merged wherever every operand is linear across them, so most calls
// run one flat loop; that loop has a contiguous variant and, for two operands, variants with one
// operand broadcast as a scalar, all written as plain indexed loops the compiler vectorizes. Other
// layouts take the strided loop.
#pragma once
#include <algorithm>
#include <array>
#include <utility>
#include <vector>

#include "../broadcast_layout.h"
#include "loops.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY {

namespace detail {

template <typename T, size_t N, typename F, size_t... I>
inline void inner_contiguous(T* __restrict__ out, const std::array<const T*, N>& in, int64_t n,
                             const F& f, std::index_sequence<I...>) {
  for (int64_t i = 0; i < n; ++i) out[i] = f(in[I][i]...);
}

// Input S is the same element throughout the run; the others are contiguous.
template <size_t S, typename T, size_t N, typename F, size_t... I>
inline void inner_one_scalar(T* __restrict__ out, const std::array<const T*, N>& in, int64_t n,
                             const F& f, std::index_sequence<I...>) {
  const T scalar = in[S][0];
  for (int64_t i = 0; i < n; ++i) out[i] = f((I == S ? scalar : in[I][i])...);
}

template <typename T, size_t N, typename F, size_t... I>
inline void inner_strided(T* __restrict__ out, const std::array<const T*, N>& in,
                          const std::array<int64_t, N>& stride, int64_t n, const F& f,
                          std::index_sequence<I...>) {
  for (int64_t i = 0; i < n; ++i) out[i] = f(in[I][i * stride[I]]...);
}

template <typename T, size_t N, typename F>
inline void inner_loop(T* out, const std::array<const T*, N>& in, const std::array<int64_t, N>& stride,
                       int64_t n, const F& f) {
  constexpr auto seq = std::make_index_sequence<N>();
  bool contiguous = true;
  for (size_t k = 0; k < N; ++k) contiguous = contiguous && stride[k] == 1;
  if (contiguous) return inner_contiguous(out, in, n, f, seq);
  if constexpr (N == 2) {
    if (stride[0] == 1 && stride[1] == 0) return inner_one_scalar<1>(out, in, n, f, seq);
    if (stride[0] == 0 && stride[1] == 1) return inner_one_scalar<0>(out, in, n, f, seq);
  }
  inner_strided(out, in, stride, n, f, seq);
}

}  // namespace detail

// The output (contiguous, layout.numel elements) cut into runs along the last dim, in parallel
// chunks of the flat output index: row(out, in, stride, n) computes n outputs from the inputs at
// in[k], in[k] + stride[k], ...
template <typename T, size_t N, typename Row>
void for_each_row(const BroadcastLayout<N>& layout, T* out, const std::array<const T*, N>& in,
                  const Row& row) {
  const int64_t ndim = static_cast<int64_t>(layout.sizes.size());
  if (layout.numel == 0) return;
  if (ndim == 0) {  // a single element
    std::array<int64_t, N> zero{};
    row(out, in, zero, int64_t(1));
    return;
  }
  const int64_t inner = layout.sizes[ndim - 1];
  std::array<int64_t, N> inner_stride;
  for (size_t k = 0; k < N; ++k) inner_stride[k] = layout.strides[k][ndim - 1];

  parallel_chunks(layout.numel, [&](int64_t begin, int64_t end) {
    // Multi-index of `begin` over the outer dims, and the input offsets it stands for.
    std::vector<int64_t> index(ndim - 1, 0);
    std::array<int64_t, N> offset{};
    int64_t rest = begin / inner;
    for (int64_t d = ndim - 2; d >= 0; --d) {
      index[d] = rest % layout.sizes[d];
      rest /= layout.sizes[d];
      for (size_t k = 0; k < N; ++k) offset[k] += index[d] * layout.strides[k][d];
    }
    int64_t j = begin % inner;
    for (int64_t pos = begin; pos < end;) {
      const int64_t n = std::min(inner - j, end - pos);
      std::array<const T*, N> ptr;
      for (size_t k = 0; k < N; ++k) ptr[k] = in[k] + offset[k] + j * inner_stride[k];
      row(out + pos, ptr, inner_stride, n);
      pos += n;
      j = 0;
      for (int64_t d = ndim - 2; d >= 0; --d) {  // next row: odometer step over the outer dims
        for (size_t k = 0; k < N; ++k) offset[k] += layout.strides[k][d];
        if (++index[d] < layout.sizes[d]) break;
        for (size_t k = 0; k < N; ++k) offset[k] -= layout.strides[k][d] * layout.sizes[d];
        index[d] = 0;
      }
    }
  });
}

// out (contiguous, layout.numel elements) = f applied elementwise to the inputs' data pointers
// laid out by `layout`. Parallel over chunks of the flat output index.
template <typename T, size_t N, typename F>
void for_each_element(const BroadcastLayout<N>& layout, T* out, const std::array<const T*, N>& in,
                      const F& f) {
  for_each_row(layout, out, in,
               [&f](T* o, const std::array<const T*, N>& p, const std::array<int64_t, N>& stride,
                    int64_t n) { detail::inner_loop(o, p, stride, n, f); });
}

}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY
