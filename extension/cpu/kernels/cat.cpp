// The copies behind cat. Contiguous inputs and output: every input's run of each output row copied
// by the C library's memmove, the runs of all inputs parallel in one loop (DenseNet joins up to
// 32 small tensors: one parallel loop per input would leave each of them serial). Otherwise one
// input at a time into its slice, walking rows of the innermost merged dim (a plain loop the
// compiler vectorizes when both sides are contiguous there), parallel over chunks of the flat
// index.
#include <algorithm>
#include <vector>

#include "../cat_dispatch.h"
#include "loops.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY {
namespace {

template <typename T>
inline void copy_run(T* __restrict__ out, const T* __restrict__ in, int64_t n, int64_t os, int64_t is) {
  if (os == 1 && is == 1) {
    for (int64_t i = 0; i < n; ++i) out[i] = in[i];
  } else {
    for (int64_t i = 0; i < n; ++i) out[i * os] = in[i * is];
  }
}

template <typename T>
void strided_copy(const BroadcastLayout<2>& layout, T* out, const T* in) {
  const int64_t ndim = static_cast<int64_t>(layout.sizes.size());
  if (layout.numel == 0) return;
  if (ndim == 0) {
    out[0] = in[0];
    return;
  }
  const int64_t inner = layout.sizes[ndim - 1];
  const int64_t os = layout.strides[0][ndim - 1], is = layout.strides[1][ndim - 1];
  parallel_chunks(layout.numel, [&](int64_t begin, int64_t end) {
    // Multi-index of `begin` over the outer dims, and the offsets it stands for.
    std::vector<int64_t> index(ndim - 1, 0);
    int64_t out_off = 0, in_off = 0;
    int64_t rest = begin / inner;
    for (int64_t d = ndim - 2; d >= 0; --d) {
      index[d] = rest % layout.sizes[d];
      rest /= layout.sizes[d];
      out_off += index[d] * layout.strides[0][d];
      in_off += index[d] * layout.strides[1][d];
    }
    int64_t j = begin % inner;
    for (int64_t pos = begin; pos < end;) {
      const int64_t n = std::min(inner - j, end - pos);
      copy_run(out + out_off + j * os, in + in_off + j * is, n, os, is);
      pos += n;
      j = 0;
      for (int64_t d = ndim - 2; d >= 0; --d) {  // next row: odometer step over the outer dims
        out_off += layout.strides[0][d];
        in_off += layout.strides[1][d];
        if (++index[d] < layout.sizes[d]) break;
        out_off -= layout.strides[0][d] * layout.sizes[d];
        in_off -= layout.strides[1][d] * layout.sizes[d];
        index[d] = 0;
      }
    }
  });
}

template <typename T>
void cat_rows(int64_t outer, int64_t row, const std::vector<CatInput<T>>& inputs, T* out) {
  const int64_t count = static_cast<int64_t>(inputs.size());
  // Tasks are (outer index, input) pairs of row / count elements on average.
  const int64_t grain = std::max<int64_t>(1, kElementwiseGrain * count / std::max<int64_t>(row, 1));
  parallel_chunks(outer * count, [&](int64_t begin, int64_t end) {
    for (int64_t task = begin; task < end; ++task) {
      const int64_t o = task / count;
      const CatInput<T>& in = inputs[task % count];
      std::copy_n(in.data + o * in.len, in.len, out + o * row + in.offset);
    }
  }, grain);
}

}  // namespace
}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY

TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::StridedCopyKernel, strided_copy);
TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::CatRowsKernel, cat_rows);
