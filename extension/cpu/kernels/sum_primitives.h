// Accurate summation building blocks for CPU reductions (the sum op, loss reductions).
//
// Cascade summation: rows are added plainly into a level-0 accumulator; every kCarry rows it is
// carried into level 1, every kCarry^2 rows level 1 into level 2, and so on. Each value then takes
// part in at most ~kCarry additions per level, so float32 rounding error grows with log(n) instead
// of n, while the inner loops stay plain vectorizable row additions.
#pragma once
#include <ATen/Parallel.h>

#include "capability.h"

#include <algorithm>
#include <vector>

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY {

constexpr int64_t kCarry = 16;           // additions per cascade level before carrying upwards
constexpr int kLevels = 4;               // levels 0..2 carry; the last one takes the rest
constexpr int64_t kMaxRowWidth = 1024;   // widest row block summed at once (streams rows up to 4-8 KB)
constexpr int64_t kLanes = 64;           // independent partial sums in a long contiguous sum
constexpr int64_t kShortLanes = 16;      // ... and in a medium one
constexpr int64_t kReduceGrain = 32768;  // elements per task below which threads do not pay

// out[c] = sum over nrows rows of row[c * col_stride], c < width <= kMaxRowWidth; next_row()
// returns the rows' base pointers in order.
template <typename T, typename NextRow>
void sum_rows(int64_t nrows, int64_t width, int64_t col_stride, NextRow&& next_row, T* out) {
  int levels = 1;  // levels this many rows reach: level l takes carries every kCarry^l rows
  for (int64_t r = nrows / kCarry; r > 0 && levels < kLevels; r /= kCarry) ++levels;
  T acc[kLevels][kMaxRowWidth];
  for (int l = 0; l < levels; ++l) std::fill(acc[l], acc[l] + width, T(0));
  for (int64_t r = 1; r <= nrows; ++r) {
    const T* __restrict__ row = next_row();
    T* __restrict__ a0 = acc[0];
    if (col_stride == 1) {
      for (int64_t c = 0; c < width; ++c) a0[c] += row[c];
    } else {
      for (int64_t c = 0; c < width; ++c) a0[c] += row[c * col_stride];
    }
    int64_t carried = r;
    for (int l = 0; l + 1 < kLevels && carried % kCarry == 0; ++l, carried /= kCarry) {
      for (int64_t c = 0; c < width; ++c) {
        acc[l + 1][c] += acc[l][c];
        acc[l][c] = T(0);
      }
    }
  }
  std::copy(acc[0], acc[0] + width, out);
  for (int l = 1; l < levels; ++l) {
    for (int64_t c = 0; c < width; ++c) out[c] += acc[l][c];
  }
}

// A scalar cascade accumulator, for sums of values produced one at a time (e.g. row sums).
template <typename T>
struct CascadeSum {
  T acc[kLevels] = {};
  int64_t count = 0;

  void add(T v) {
    acc[0] += v;
    int64_t carried = ++count;
    for (int l = 0; l + 1 < kLevels && carried % kCarry == 0; ++l, carried /= kCarry) {
      acc[l + 1] += acc[l];
      acc[l] = T(0);
    }
  }
  T value() const { return ((acc[0] + acc[1]) + acc[2]) + acc[3]; }
};

// Pairwise sum of lanes[0, n), n a power of two; overwrites lanes.
template <typename T>
T sum_lanes(T* lanes, int64_t n) {
  for (int64_t w = n / 2; w >= 1; w /= 2) {
    for (int64_t j = 0; j < w; ++j) lanes[j] += lanes[j + w];
  }
  return lanes[0];
}

// Sum of n contiguous elements. Short runs go plainly; medium ones into kShortLanes interleaved
// partial sums (at most kLanes * kCarry / kShortLanes values each); long ones into kLanes
// interleaved cascades. The partial sums are then added pairwise.
template <typename T>
T sum_contiguous(const T* p, int64_t n) {
  if (n < kShortLanes) {
    T s = T(0);
    for (int64_t i = 0; i < n; ++i) s += p[i];
    return s;
  }
  if (n < kLanes * kCarry) {
    T lanes[kShortLanes] = {};
    int64_t i = 0;
    for (; i + kShortLanes <= n; i += kShortLanes) {
      for (int64_t j = 0; j < kShortLanes; ++j) lanes[j] += p[i + j];
    }
    for (int64_t j = 0; i + j < n; ++j) lanes[j] += p[i + j];
    return sum_lanes(lanes, kShortLanes);
  }
  T lanes[kLanes];
  const int64_t rows = n / kLanes;
  const T* row = p;
  sum_rows<T>(rows, kLanes, 1, [&] { const T* r = row; row += kLanes; return r; }, lanes);
  for (int64_t j = 0; j < n - rows * kLanes; ++j) lanes[j] += row[j];
  return sum_lanes(lanes, kLanes);
}

// Sum of n elements `stride` apart.
template <typename T>
T sum_strided(const T* p, int64_t n, int64_t stride) {
  if (stride == 1) return sum_contiguous(p, n);
  CascadeSum<T> s;
  for (int64_t i = 0; i < n; ++i) s.add(p[i * stride]);
  return s.value();
}

// How many tasks to split `work` elements into (1 inside a parallel region).
inline int64_t reduce_tasks(int64_t work) {
  if (at::in_parallel_region()) return 1;
  return std::max<int64_t>(1, std::min<int64_t>(at::get_num_threads(), work / kReduceGrain));
}

// Sums partial results produced by task(i) for i < ntasks, in parallel, combining them in order.
template <typename T, typename Task>
T sum_of_tasks(int64_t ntasks, Task&& task) {
  std::vector<T> partial(ntasks);
  at::parallel_for(0, ntasks, 1, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) partial[i] = task(i);
  });
  T s = T(0);
  for (T v : partial) s += v;
  return s;
}

// Parallel sum of n elements `stride` apart: contiguous blocks (multiples of kLanes) per task.
template <typename T>
T sum_strided_parallel(const T* p, int64_t n, int64_t stride) {
  const int64_t ntasks = reduce_tasks(n);
  if (ntasks == 1) return sum_strided(p, n, stride);
  const int64_t block = ((n + ntasks - 1) / ntasks + kLanes - 1) / kLanes * kLanes;
  return sum_of_tasks<T>(ntasks, [&](int64_t i) {
    const int64_t begin = std::min(n, i * block);
    const int64_t end = std::min(n, begin + block);
    return sum_strided(p + begin * stride, end - begin, stride);
  });
}

}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY
