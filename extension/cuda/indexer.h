// Strided addressing shared by the host code that builds it and the kernels that use it.
// Plain C++ (no CUDA syntax) so that both the host .cpp files and the .cu files include it.
#pragma once
#include <c10/macros/Macros.h>

#include <cstdint>

namespace torchext::cuda {

// At most this many dimensions after coalescing (torch's own CUDA kernels have the same limit).
constexpr int kMaxDims = 25;

// Maps a row-major linear index over a shape to the element offsets of N operands that are
// viewed with that shape through their own strides (stride 0 on broadcast dimensions).
template <int N>
struct StridedIndexer {
  int ndim = 0;
  int64_t sizes[kMaxDims];
  int64_t strides[N][kMaxDims];

  C10_HOST_DEVICE void offsets(int64_t linear, int64_t (&off)[N]) const {
    for (int k = 0; k < N; ++k) off[k] = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      const int64_t size = sizes[d];
      const int64_t i = linear % size;
      linear /= size;
      for (int k = 0; k < N; ++k) off[k] += i * strides[k][d];
    }
  }

  // Offset of operand 0 only (the common single-operand case).
  C10_HOST_DEVICE int64_t offset(int64_t linear) const {
    int64_t off = 0;
    for (int d = ndim - 1; d >= 0; --d) {
      const int64_t size = sizes[d];
      off += (linear % size) * strides[0][d];
      linear /= size;
    }
    return off;
  }
};

}  // namespace torchext::cuda
