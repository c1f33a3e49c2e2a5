// The sum reduction's loops, over dims that ../reduce.cpp has put in memory order and merged where
// possible. The innermost dim decides the loop. Innermost reduced: each output sums runs along it
// (contiguous runs get the multi-lane cascade). Innermost kept: each output row is the cascade sum
// of input rows, added as whole vectorizable rows (the bias-gradient case, [N, F] over dim 0).
// Either way, when there are too few outputs to occupy the threads, the reduction itself is split
// and the partial sums combined.
#include <ATen/Parallel.h>
#include <c10/util/SmallVector.h>

#include <algorithm>
#include <vector>

#include "../reduce_dispatch.h"
#include "sum_primitives.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY {
namespace {

using DimList = std::vector<ReduceDim>;

// Walks a multi-index over dims (outermost first) from a linear position, tracking the input and
// output element offsets it stands for.
struct DimWalker {
  const DimList& dims;
  c10::SmallVector<int64_t, 6> index;
  int64_t in = 0, out = 0;

  DimWalker(const DimList& dims_, int64_t start) : dims(dims_), index(dims_.size(), 0) {
    for (int64_t d = static_cast<int64_t>(dims.size()) - 1; d >= 0; --d) {
      index[d] = start % dims[d].size;
      start /= dims[d].size;
      in += index[d] * dims[d].in_stride;
      out += index[d] * dims[d].out_stride;
    }
  }

  void next() {
    for (int64_t d = static_cast<int64_t>(dims.size()) - 1; d >= 0; --d) {
      in += dims[d].in_stride;
      out += dims[d].out_stride;
      if (++index[d] < dims[d].size) return;
      in -= dims[d].in_stride * dims[d].size;
      out -= dims[d].out_stride * dims[d].size;
      index[d] = 0;
    }
  }
};

int64_t numel_of(const DimList& dims) {
  int64_t n = 1;
  for (const auto& d : dims) n *= d.size;
  return n;
}

// The dims among the first `count` that are (or are not) reduced, in order.
DimList dims_of_kind(const DimList& dims, size_t count, bool reduced) {
  DimList picked;
  for (size_t i = 0; i < count; ++i) {
    if (dims[i].reduced == reduced) picked.push_back(dims[i]);
  }
  return picked;
}

// The innermost dim is reduced: each output is the sum over `outer` (the other reduced dims) of
// runs of `len` elements `stride` apart.
template <typename T>
void sum_inner(const T* x, T* y, const DimList& kept, const DimList& outer, int64_t len,
               int64_t stride) {
  const int64_t outputs = numel_of(kept);
  const int64_t runs = numel_of(outer);
  auto sum_runs = [&](int64_t base, int64_t begin, int64_t end) {
    if (runs == 1) return sum_strided(x + base, len, stride);
    CascadeSum<T> acc;
    DimWalker run(outer, begin);
    for (int64_t q = begin; q < end; ++q, run.next()) acc.add(sum_strided(x + base + run.in, len, stride));
    return acc.value();
  };
  const int64_t per_output = runs * len;
  if (outputs >= at::get_num_threads() || reduce_tasks(outputs * per_output) == 1) {
    const int64_t grain = std::max<int64_t>(1, kReduceGrain / std::max<int64_t>(1, per_output));
    at::parallel_for(0, outputs, grain, [&](int64_t b, int64_t e) {
      DimWalker o(kept, b);
      for (int64_t i = b; i < e; ++i, o.next()) y[o.out] = sum_runs(o.in, 0, runs);
    });
    return;
  }
  // Too few outputs to occupy the threads: split each one's reduction.
  DimWalker o(kept, 0);
  for (int64_t i = 0; i < outputs; ++i, o.next()) {
    if (runs == 1) {
      y[o.out] = sum_strided_parallel(x + o.in, len, stride);
      continue;
    }
    const int64_t ntasks = std::min(runs, reduce_tasks(per_output));
    const int64_t chunk = (runs + ntasks - 1) / ntasks;
    y[o.out] = sum_of_tasks<T>(ntasks, [&](int64_t t) {
      return sum_runs(o.in, std::min(runs, t * chunk), std::min(runs, (t + 1) * chunk));
    });
  }
}

// The innermost dim is kept: each output row (`width` elements, input stride `col_stride`, output
// stride `out_col_stride`) is the sum of the input rows over the reduced dims.
template <typename T>
void sum_outer(const T* x, T* y, const DimList& kept, const DimList& reduced, int64_t width,
               int64_t col_stride, int64_t out_col_stride) {
  const int64_t out_rows = numel_of(kept);
  const int64_t rows = numel_of(reduced);
  const int64_t blocks = (width + kMaxRowWidth - 1) / kMaxRowWidth;
  // Sums input rows [begin, end) over columns [c0, c0 + w) of the output row whose input starts at
  // `base`, into res[0, w).
  auto sum_block = [&](int64_t base, int64_t c0, int64_t w, int64_t begin, int64_t end, T* res) {
    DimWalker row(reduced, begin);
    const T* start = x + base + c0 * col_stride;
    sum_rows<T>(end - begin, w, col_stride, [&] { const T* p = start + row.in; row.next(); return p; }, res);
  };
  const int64_t units = out_rows * blocks;
  if (units >= at::get_num_threads() || reduce_tasks(out_rows * rows * width) == 1) {
    const int64_t work = rows * std::min(width, kMaxRowWidth);
    at::parallel_for(0, units, std::max<int64_t>(1, kReduceGrain / work), [&](int64_t b, int64_t e) {
      T res[kMaxRowWidth];
      for (int64_t u = b; u < e; ++u) {
        DimWalker o(kept, u / blocks);
        const int64_t c0 = (u % blocks) * kMaxRowWidth;
        const int64_t w = std::min(kMaxRowWidth, width - c0);
        sum_block(o.in, c0, w, 0, rows, res);
        for (int64_t c = 0; c < w; ++c) y[o.out + (c0 + c) * out_col_stride] = res[c];
      }
    });
    return;
  }
  // Few output rows: split the input rows across tasks, then add the tasks' partial rows in order.
  const int64_t ntasks = std::min(rows, reduce_tasks(rows * width));
  const int64_t chunk = (rows + ntasks - 1) / ntasks;
  std::vector<T> partial(ntasks * width);
  DimWalker o(kept, 0);
  for (int64_t i = 0; i < out_rows; ++i, o.next()) {
    at::parallel_for(0, ntasks, 1, [&](int64_t b, int64_t e) {
      for (int64_t t = b; t < e; ++t) {
        for (int64_t c0 = 0; c0 < width; c0 += kMaxRowWidth) {
          sum_block(o.in, c0, std::min(kMaxRowWidth, width - c0), std::min(rows, t * chunk),
                    std::min(rows, (t + 1) * chunk), partial.data() + t * width + c0);
        }
      }
    });
    for (int64_t c = 0; c < width; ++c) {
      T s = T(0);
      for (int64_t t = 0; t < ntasks; ++t) s += partial[t * width + c];
      y[o.out + c * out_col_stride] = s;
    }
  }
}

template <typename T>
void sum(const T* x, T* y, const ReduceDim* dims_begin, int64_t ndims) {
  const DimList dims(dims_begin, dims_begin + ndims);
  const ReduceDim& inner = dims.back();
  const DimList outer_kept = dims_of_kind(dims, dims.size() - 1, false);
  const DimList outer_reduced = dims_of_kind(dims, dims.size() - 1, true);
  if (inner.reduced) {
    sum_inner(x, y, outer_kept, outer_reduced, inner.size, inner.in_stride);
  } else {
    sum_outer(x, y, outer_kept, outer_reduced, inner.size, inner.in_stride, inner.out_stride);
  }
}

template <typename T>
T sum_contiguous_values(const T* x, int64_t n) {
  return sum_strided_parallel(x, n, 1);
}

}  // namespace
}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY

TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::SumKernel, sum);
TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::SumContiguousKernel, sum_contiguous_values);
