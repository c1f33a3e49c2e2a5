// Launchers of the pooling CUDA kernels (pooling.cu). Inputs and outputs are contiguous stacks of
// `planes` H x W (or OH x OW) planes.
#pragma once
#include <c10/util/BFloat16.h>
#include <c10/util/Half.h>

#include <cstdint>

#include "../geometry.h"

namespace torchext::cuda {

// out = the max of each window, indices = its flat position h * W + w in the input plane. The
// first maximum wins, a NaN is taken whenever seen (the last NaN wins), as native; a window lying
// wholly on padding gives -inf and index -1.
template <typename T>
void max_pool2d_launch(const T* in, int64_t planes, const PoolGeometry& g, T* out, int64_t* indices);

// grad_in[plane][indices[o]] += grad_out[o] for every output element o, with atomic adds into
// grad_in (zeroed by the caller, in the accumulate type A). The backward op is not given the
// pooling geometry, so it cannot gather; overlapping windows make the order of the adds, and so
// the last bits of a sum, vary from run to run. Indices outside [0, HW) (-1: a window wholly on
// padding) add nothing.
template <typename T, typename A>
void max_pool2d_backward_launch(const T* grad_out, const int64_t* indices, int64_t planes,
                                int64_t HW, int64_t OHW, A* grad_in);

// out[o] = grad_grad_in[plane][indices[o]] (0 for an index outside [0, HW), as the backward adds
// nothing there): one thread per output, no atomics, deterministic.
template <typename T>
void max_pool2d_double_backward_launch(const T* grad_grad_in, const int64_t* indices, int64_t planes,
                                       int64_t HW, int64_t OHW, T* out);

// out = the sum of each window over the input divided by divisor (when not 0), else by the
// window's area clamped to the padded input (count_include_pad) or to the input; 0 for a window
// with no input element.
template <typename T>
void avg_pool2d_launch(const T* in, int64_t planes, const PoolGeometry& g, bool count_include_pad,
                       int64_t divisor, T* out);

// grad_in[h, w] = the sum over the windows holding (h, w) of grad_out / the window's divisor (a
// gather: one thread per input element, no atomics, deterministic).
template <typename T>
void avg_pool2d_backward_launch(const T* grad_out, int64_t planes, const PoolGeometry& g,
                                bool count_include_pad, int64_t divisor, T* grad_in);

// Output cell i along a dim of input length L and output length O averages the input range
// [floor(i*L/O), ceil((i+1)*L/O)).
template <typename T>
void adaptive_avg_pool2d_launch(const T* in, int64_t planes, int64_t H, int64_t W, int64_t OH,
                                int64_t OW, T* out);

// grad_in[h, w] = sum over the cells whose range holds (h, w) of grad_out / the cell's area.
template <typename T>
void adaptive_avg_pool2d_backward_launch(const T* grad_out, int64_t planes, int64_t H, int64_t W,
                                         int64_t OH, int64_t OW, T* grad_in);

}  // namespace torchext::cuda
