// torchext.matmul with torch.matmul's semantics: vector/matrix products, and batched matrix
// products with broadcast batch dims. Every product runs on the strided GEMM, reading operands
// through their strides (transposed or expanded inputs are never copied).
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <ATen/Parallel.h>
#include <torch/library.h>

#include <optional>
#include <vector>

#include "../common.h"
#include "../matmul_args.h"
#include "gemm_dispatch.h"

namespace torchext::cpu {
namespace {

// Multiply-adds per matrix below which a batch is spread across threads one matrix each, rather
// than matrix by matrix with the GEMM's own threading.
constexpr int64_t kBatchParallelFmas = int64_t(1) << 21;
// Multiply-adds a batch-parallel task should hold at least.
constexpr int64_t kMinFmasPerTask = int64_t(1) << 18;

// One operand as a batch of matrices, without materialising views: element strides of its rows
// and columns and, per broadcast batch dim, of the batch (0 where it is broadcast).
struct MatrixBatch {
  int64_t rs, cs;
  std::vector<int64_t> batch_strides;
};

// t as a batch of matrices over the broadcast batch shape; a 1-D t is one row (as_row) or one
// column (its rows or columns then have no stride to speak of, so 0).
MatrixBatch matrix_batch(const at::Tensor& t, bool as_row, size_t batch_dims) {
  MatrixBatch m;
  if (t.dim() == 1) {
    m.rs = as_row ? 0 : t.stride(0);
    m.cs = as_row ? t.stride(0) : 0;
  } else {
    m.rs = t.stride(-2);
    m.cs = t.stride(-1);
  }
  const int64_t own = std::max<int64_t>(0, t.dim() - 2);
  m.batch_strides.assign(batch_dims, 0);
  for (int64_t d = 0; d < own; ++d) {
    if (t.size(d) != 1) m.batch_strides[batch_dims - own + d] = t.stride(d);
  }
  return m;
}

// The stride that walks the rows of every batch entry of a as one flat sequence of rows, if one
// does (batch dims and rows nest like a contiguous tensor's); dims of size 1 do not count.
std::optional<int64_t> flat_row_stride(const MatrixBatch& a, at::IntArrayRef batch, int64_t n) {
  std::optional<int64_t> stride;
  int64_t span = 1;
  auto visit = [&](int64_t size, int64_t s) {
    if (size == 1) return true;
    if (!stride) {
      stride = s;
    } else if (s != *stride * span) {
      return false;
    }
    span *= size;
    return true;
  };
  if (!visit(n, a.rs)) return std::nullopt;
  for (int64_t d = static_cast<int64_t>(batch.size()) - 1; d >= 0; --d)
    if (!visit(batch[d], a.batch_strides[d])) return std::nullopt;
  return stride.value_or(0);
}

template <typename T>
void batched_gemm(const T* ap, const MatrixBatch& a, const T* bp, const MatrixBatch& b, T* cp,
                  at::IntArrayRef batch, int64_t n, int64_t k, int64_t p) {
  int64_t count = 1;
  for (int64_t size : batch) count *= size;
  const int64_t dims = static_cast<int64_t>(batch.size());

  // other shared by the whole batch and self's rows evenly strided across it: one tall GEMM.
  bool b_shared = true;
  for (int64_t d = 0; d < dims; ++d) b_shared = b_shared && b.batch_strides[d] == 0;
  if (count > 1 && b_shared) {
    if (auto row_stride = flat_row_stride(a, batch, n)) {
      gemm<T>(count * n, p, k, T(1), ap, *row_stride, a.cs, bp, b.rs, b.cs, T(0), cp, p, 1);
      return;
    }
  }

  auto one = [&](int64_t i) {
    int64_t a_off = 0, b_off = 0;
    for (int64_t d = dims - 1, rest = i; d >= 0; --d) {
      const int64_t idx = rest % batch[d];
      rest /= batch[d];
      a_off += idx * a.batch_strides[d];
      b_off += idx * b.batch_strides[d];
    }
    gemm<T>(n, p, k, T(1), ap + a_off, a.rs, a.cs, bp + b_off, b.rs, b.cs, T(0), cp + i * n * p,
            p, 1);
  };
  const int64_t fmas = std::max<int64_t>(1, n * p * k);
  if (count > 1 && fmas < kBatchParallelFmas) {
    const int64_t per_task = std::max<int64_t>(1, kMinFmasPerTask / fmas);
    at::parallel_for(0, count, per_task, [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) one(i);
    });
  } else {
    for (int64_t i = 0; i < count; ++i) one(i);
  }
}

at::Tensor matmul_cpu(const at::Tensor& self, const at::Tensor& other) {
  // self is a batch of n x k matrices, other of k x p (matmul_args.h).
  const MatmulArgs m = matmul_args(self, other);
  const int64_t n = m.n, k = m.k, p = m.p;
  const std::vector<int64_t>& batch = m.batch;
  at::Tensor out = at::empty(m.result, self.options());
  if (out.numel() == 0) return out;

  const MatrixBatch a = matrix_batch(self, /*as_row=*/true, batch.size());
  const MatrixBatch b = matrix_batch(other, /*as_row=*/false, batch.size());
  AT_DISPATCH_FLOATING_TYPES(out.scalar_type(), "torchext_matmul", [&] {
    batched_gemm<scalar_t>(self.const_data_ptr<scalar_t>(), a, other.const_data_ptr<scalar_t>(), b,
                           out.mutable_data_ptr<scalar_t>(), batch, n, k, p);
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CPU, m) {
  m.impl("matmul", &matmul_cpu);
}

}  // namespace torchext::cpu
