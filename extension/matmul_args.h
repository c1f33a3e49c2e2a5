// Argument checks and shapes for matmul (torch.matmul's semantics), shared by the CPU and CUDA
// host code. Only checks and size arithmetic.
#pragma once
#include <ATen/ATen.h>

#include <algorithm>
#include <cstdint>
#include <vector>

#include "common.h"

namespace torchext {

// self is a batch of n x k matrices (a 1-D self one 1 x k row), other of k x p (a 1-D other one
// k x 1 column); `batch` is their broadcast batch shape, `result` the output's shape (without the
// dims a 1-D operand did not have).
struct MatmulArgs {
  int64_t n, k, p;
  std::vector<int64_t> batch, result;
};

namespace matmul_detail {

constexpr const char* kOp = "torchext.matmul";

// Broadcasts the batch shapes of the two operands (numpy rules), naming the op on failure.
inline std::vector<int64_t> broadcast_batch(at::IntArrayRef a, at::IntArrayRef b,
                                            const at::Tensor& self, const at::Tensor& other) {
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

}  // namespace matmul_detail

inline MatmulArgs matmul_args(const at::Tensor& self, const at::Tensor& other) {
  using matmul_detail::kOp;
  check_float(kOp, "self", self);
  check_float_on(kOp, "other", other, "self", self);
  check_same_dtype(kOp, "self", self, "other", other);
  TORCH_CHECK(self.dim() >= 1 && other.dim() >= 1, kOp,
              ": both arguments need to be at least 1-D, but self is ", self.dim(),
              "-D and other is ", other.dim(), "-D");
  MatmulArgs m;
  m.n = self.dim() == 1 ? 1 : self.size(-2);
  m.k = self.size(-1);
  const int64_t k_other = other.dim() == 1 ? other.size(0) : other.size(-2);
  m.p = other.dim() == 1 ? 1 : other.size(-1);
  TORCH_CHECK(k_other == m.k, kOp, ": size mismatch, cannot multiply self of shape ", self.sizes(),
              " by other of shape ", other.sizes(), " (", m.k, " != ", k_other,
              " along the contracted dimension)");
  const at::IntArrayRef self_batch = self.sizes().slice(0, std::max<int64_t>(0, self.dim() - 2));
  const at::IntArrayRef other_batch = other.sizes().slice(0, std::max<int64_t>(0, other.dim() - 2));
  m.batch = matmul_detail::broadcast_batch(self_batch, other_batch, self, other);
  m.result = m.batch;
  if (self.dim() >= 2) m.result.push_back(m.n);
  if (other.dim() >= 2) m.result.push_back(m.p);
  return m;
}

}  // namespace torchext
