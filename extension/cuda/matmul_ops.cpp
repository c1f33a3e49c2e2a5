// matmul with torch.matmul's semantics (CUDA host side): vector/matrix products and batched
// products with broadcast batch dimensions, all on our GEMM reading operands through their
// strides (transposed or expanded inputs are never copied).
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <vector>

#include "../matmul_args.h"
#include "gemm.h"
#include "host_utils.h"

namespace torchext::cuda {
namespace {

// out[batch..., n, p] = a[batch..., n, k] @ b[batch..., k, p], a and b expanded to the batch
// shape. The batch dimensions are coalesced; the last two become the GEMM's two-level batch and
// any further ones (rare: broadcasts that do not merge) are looped over here.
template <typename T>
void batched_product(const at::Tensor& a, const at::Tensor& b, at::Tensor& out, int64_t batch_dims) {
  const auto batch = out.sizes().slice(0, batch_dims);
  const auto ix = make_indexer<3>(batch, {a.strides().slice(0, batch_dims),
                                          b.strides().slice(0, batch_dims),
                                          out.strides().slice(0, batch_dims)});
  GemmProblem<T, T> p;
  p.M = a.size(-2);
  p.N = b.size(-1);
  p.K = a.size(-1);
  p.a_layout.rs = a.stride(-2);
  p.a_layout.cs = a.stride(-1);
  p.b_layout.rs = b.stride(-2);
  p.b_layout.cs = b.stride(-1);
  p.c_layout.rs = out.stride(-2);
  p.c_layout.cs = out.stride(-1);
  MatrixLayout* layouts[3] = {&p.a_layout, &p.b_layout, &p.c_layout};
  const int inner = std::min(ix.ndim, 2);  // coalesced dims the GEMM batches itself
  const int outer = ix.ndim - inner;
  for (int d = 0; d < inner; ++d) {  // right-aligned into batches[2 - inner .. 1]
    const int slot = 2 - inner + d;
    p.batches[slot] = ix.sizes[outer + d];
    for (int k = 0; k < 3; ++k) layouts[k]->batch[slot] = ix.strides[k][outer + d];
  }
  int64_t outer_count = 1;
  for (int d = 0; d < outer; ++d) outer_count *= ix.sizes[d];
  for (int64_t o = 0; o < outer_count; ++o) {
    int64_t off[3] = {0, 0, 0};
    for (int64_t d = outer - 1, rest = o; d >= 0; --d) {
      const int64_t i = rest % ix.sizes[d];
      rest /= ix.sizes[d];
      for (int k = 0; k < 3; ++k) off[k] += i * ix.strides[k][d];
    }
    p.a = a.const_data_ptr<T>() + off[0];
    p.b = b.const_data_ptr<T>() + off[1];
    p.c = out.mutable_data_ptr<T>() + off[2];
    gemm_launch(p);
  }
}

at::Tensor matmul_cuda(const at::Tensor& self, const at::Tensor& other) {
  // A 1-D self is a 1 x k row and a 1-D other a k x 1 column; the added dims are dropped from
  // the result (matmul_args.h).
  const MatmulArgs m = matmul_args(self, other);
  const int64_t n = m.n, k = m.k, p = m.p;
  const std::vector<int64_t>& batch = m.batch;
  const at::Tensor a = self.dim() == 1 ? self.unsqueeze(0) : self;
  const at::Tensor b = other.dim() == 1 ? other.unsqueeze(-1) : other;
  const int64_t batch_dims = static_cast<int64_t>(batch.size());
  std::vector<int64_t> a_shape = batch, b_shape = batch, out_shape = batch;
  a_shape.insert(a_shape.end(), {n, k});
  b_shape.insert(b_shape.end(), {k, p});
  out_shape.insert(out_shape.end(), {n, p});

  c10::cuda::CUDAGuard guard(self.device());
  at::Tensor result = at::empty(m.result, self.options());  // the op's output is not a view
  at::Tensor out = result.view(out_shape);
  if (out.numel() > 0) {
    const at::Tensor a_full = a.expand(a_shape), b_full = b.expand(b_shape);
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, out.scalar_type(), "torchext_matmul", [&] {
      batched_product<scalar_t>(a_full, b_full, out, batch_dims);
    });
  }
  return result;
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CUDA, m) {
  m.impl("matmul", &matmul_cuda);
}

}  // namespace torchext::cuda
