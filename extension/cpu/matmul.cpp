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
#include "gemm.h"

namespace torchext::cpu {
namespace {

constexpr const char* kOp = "torchext.matmul";

// Multiply-adds per matrix below which a batch is spread across threads one matrix each, rather
// than matrix by matrix with the GEMM's own threading.
constexpr int64_t kBatchParallelFmas = int64_t(1) << 21;
// Multiply-adds a batch-parallel task should hold at least.
constexpr int64_t kMinFmasPerTask = int64_t(1) << 18;

// Broadcasts the batch shapes of the two operands (numpy rules), naming the op on failure.
std::vector<int64_t> broadcast_batch(at::IntArrayRef a, at::IntArrayRef b, const at::Tensor& self,
                                     const at::Tensor& other) {
  const size_t nd = std::max(a.size(), b.size());
  std::vector<int64_t> out(nd);
  for (size_t i = 0; i < nd; ++i) {
    const int64_t sa = i < a.size() ? a[a.size() - 1 - i] : 1;
    const int64_t sb = i < b.size() ? b[b.size() - 1 - i] : 1;
    TORCH_CHECK(sa == sb || sa == 1 || sb == 1, kOp, ": batch dimensions of self (shape ",
                self.sizes(), ") and other (shape ", other.sizes(),
                ") cannot be broadcast: sizes ", sa, " and ", sb, " at batch dimension ",
                static_cast<int64_t>(nd - 1 - i));
    out[nd - 1 - i] = sa == 1 ? sb : sa;
  }
  return out;
}

// The stride that walks all leading dims [0, count) of t as one flat dim, if one does.
std::optional<int64_t> flat_stride(const at::Tensor& t, int64_t count) {
  std::optional<int64_t> stride;
  int64_t span = 1;  // elements a step of the innermost non-trivial dim seen so far covers
  for (int64_t d = count - 1; d >= 0; --d) {
    if (t.size(d) == 1) continue;
    if (!stride) {
      stride = t.stride(d);
    } else if (t.stride(d) != *stride * span) {
      return std::nullopt;
    }
    span *= t.size(d);
  }
  return stride ? stride : std::optional<int64_t>(0);
}

template <typename T>
void batched_gemm(const at::Tensor& a, const at::Tensor& b, at::Tensor& out, int64_t batch_dims) {
  const int64_t n = a.size(-2), k = a.size(-1), p = b.size(-1);
  const T* ap = a.const_data_ptr<T>();
  const T* bp = b.const_data_ptr<T>();
  T* cp = out.mutable_data_ptr<T>();
  const int64_t a_rs = a.stride(-2), a_cs = a.stride(-1), b_rs = b.stride(-2), b_cs = b.stride(-1);
  int64_t batch = 1;
  for (int64_t d = 0; d < batch_dims; ++d) batch *= out.size(d);

  // other shared by the whole batch and self's rows evenly strided across it: one tall GEMM.
  bool b_shared = true;
  for (int64_t d = 0; d < batch_dims; ++d) b_shared = b_shared && (b.stride(d) == 0 || b.size(d) == 1);
  if (batch > 1 && b_shared) {
    if (auto row_stride = flat_stride(a, batch_dims + 1)) {
      gemm<T>(batch * n, p, k, T(1), ap, *row_stride, a_cs, bp, b_rs, b_cs, T(0), cp, p, 1);
      return;
    }
  }

  // Element offsets of batch entry i in a and b (a and b are expanded to the full batch shape).
  auto offsets = [&](int64_t i, int64_t& a_off, int64_t& b_off) {
    a_off = b_off = 0;
    for (int64_t d = batch_dims - 1; d >= 0; --d) {
      const int64_t idx = i % out.size(d);
      i /= out.size(d);
      a_off += idx * a.stride(d);
      b_off += idx * b.stride(d);
    }
  };
  auto one = [&](int64_t i) {
    int64_t a_off, b_off;
    offsets(i, a_off, b_off);
    gemm<T>(n, p, k, T(1), ap + a_off, a_rs, a_cs, bp + b_off, b_rs, b_cs, T(0),
            cp + i * n * p, p, 1);
  };
  const int64_t fmas = std::max<int64_t>(1, n * p * k);
  if (batch > 1 && fmas < kBatchParallelFmas) {
    at::parallel_for(0, batch, std::max<int64_t>(1, kMinFmasPerTask / fmas), [&](int64_t lo, int64_t hi) {
      for (int64_t i = lo; i < hi; ++i) one(i);
    });
  } else {
    for (int64_t i = 0; i < batch; ++i) one(i);
  }
}

at::Tensor matmul_cpu(const at::Tensor& self, const at::Tensor& other) {
  check_float(kOp, "self", self);
  check_float(kOp, "other", other);
  check_same_device(kOp, "self", self, "other", other);
  check_same_dtype(kOp, "self", self, "other", other);
  TORCH_CHECK(self.dim() >= 1 && other.dim() >= 1, kOp,
              ": both arguments need to be at least 1-D, but self is ", self.dim(),
              "-D and other is ", other.dim(), "-D");
  // A 1-D self is a 1 x k row and a 1-D other a k x 1 column; the added dims are dropped from
  // the result.
  const at::Tensor a = self.dim() == 1 ? self.unsqueeze(0) : self;
  const at::Tensor b = other.dim() == 1 ? other.unsqueeze(-1) : other;
  const int64_t n = a.size(-2), k = a.size(-1), p = b.size(-1);
  TORCH_CHECK(b.size(-2) == k, kOp, ": size mismatch, cannot multiply self of shape ",
              self.sizes(), " by other of shape ", other.sizes(), " (", k, " != ", b.size(-2),
              " along the contracted dimension)");

  std::vector<int64_t> batch = broadcast_batch(a.sizes().slice(0, a.dim() - 2),
                                               b.sizes().slice(0, b.dim() - 2), self, other);
  const int64_t batch_dims = static_cast<int64_t>(batch.size());
  std::vector<int64_t> result_shape = batch;
  if (self.dim() >= 2) result_shape.push_back(n);
  if (other.dim() >= 2) result_shape.push_back(p);

  std::vector<int64_t> a_shape = batch, b_shape = batch, out_shape = batch;
  a_shape.insert(a_shape.end(), {n, k});
  b_shape.insert(b_shape.end(), {k, p});
  out_shape.insert(out_shape.end(), {n, p});
  at::Tensor out = at::empty(out_shape, self.options());
  if (out.numel() > 0) {
    const at::Tensor a_full = a.expand(a_shape), b_full = b.expand(b_shape);
    AT_DISPATCH_FLOATING_TYPES(out.scalar_type(), "torchext_matmul", [&] {
      batched_gemm<scalar_t>(a_full, b_full, out, batch_dims);
    });
  }
  return out.view(result_shape);
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CPU, m) {
  m.impl("matmul", &matmul_cpu);
}

}  // namespace torchext::cpu
