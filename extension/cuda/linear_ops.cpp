// linear (CUDA host side): y = x @ W^T + b over any leading dimensions, and its backward.
//   grad_x = grad_y @ W,  grad_W = grad_y^T @ x,  grad_b = sum of grad_y over the rows.
// Leading dimensions are flattened with a reshape (a view whenever the strides allow); every
// operand goes to our GEMM with its own strides, the bias is added in the GEMM's epilogue.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <array>
#include <tuple>
#include <vector>

#include "../linear_args.h"
#include "gemm.h"
#include "host_utils.h"
#include "reduce_ops.h"

namespace torchext::cuda {
namespace {

// The layout of a 2-D tensor, or of its transpose.
MatrixLayout layout_of(const at::Tensor& t, bool transposed = false) {
  MatrixLayout l;
  l.rs = transposed ? t.stride(1) : t.stride(0);
  l.cs = transposed ? t.stride(0) : t.stride(1);
  return l;
}

// out [M, N] = a [M, K] @ b [K, N] (+ bias per column), out contiguous.
template <typename T>
void product(int64_t M, int64_t N, int64_t K, const at::Tensor& a, MatrixLayout la,
             const at::Tensor& b, MatrixLayout lb, const at::Tensor& bias, at::Tensor& out) {
  GemmProblem<T, T> p;
  p.M = M;
  p.N = N;
  p.K = K;
  p.a = a.const_data_ptr<T>();
  p.a_layout = la;
  p.b = b.const_data_ptr<T>();
  p.b_layout = lb;
  p.c = out.mutable_data_ptr<T>();
  p.c_layout.rs = N;
  p.c_layout.cs = 1;
  if (bias.defined()) {
    p.bias = bias.const_data_ptr<T>();
    p.bias_layout.cs = bias.stride(0);
  }
  gemm_launch(p);
}

at::Tensor linear_cuda(const at::Tensor& input, const at::Tensor& weight,
                       const std::optional<at::Tensor>& bias_opt) {
  const char* op = "torchext.linear";
  const LinearArgs s = linear_args(op, input, weight);
  const int64_t M = s.M, K = s.K, N = s.N;
  at::Tensor bias;
  if (bias_opt.has_value() && bias_opt->defined()) {
    bias = *bias_opt;
    check_linear_bias(op, bias, input, s);
  }
  c10::cuda::CUDAGuard guard(input.device());
  // Allocated in its final shape (contiguous, so the GEMM writes it as M x N): a view of an
  // M x N result would be an output that in-place ops (relu_, hardswish_) may not modify.
  auto out = at::empty(linear_output_shape(input, N), input.options());
  const auto x = input.reshape({M, K});
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(), "torchext_linear", [&] {
    // y = x @ W^T: W^T is W with its strides swapped.
    product<scalar_t>(M, N, K, x, layout_of(x), weight, layout_of(weight, true), bias, out);
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> linear_backward_cuda(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight,
    std::array<bool, 3> output_mask) {
  const char* op = "torchext.linear_backward";
  const LinearArgs s = linear_args(op, input, weight);
  check_linear_grad_output(op, grad_output, input, s);
  const int64_t M = s.M, K = s.K, N = s.N;
  c10::cuda::CUDAGuard guard(input.device());
  at::Tensor grad_input, grad_weight, grad_bias;
  const auto g = grad_output.reshape({M, N});
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(), "torchext_linear_backward", [&] {
    if (output_mask[0]) {  // [M, K] = grad_y [M, N] @ W [N, K]
      grad_input = at::empty(input.sizes(), input.options());
      product<scalar_t>(M, K, N, g, layout_of(g), weight, layout_of(weight), at::Tensor(), grad_input);
    }
    if (output_mask[1]) {  // [N, K] = grad_y^T [N, M] @ x [M, K]
      grad_weight = at::empty({N, K}, weight.options());
      const auto x = input.reshape({M, K});
      product<scalar_t>(N, K, M, g, layout_of(g, true), x, layout_of(x), at::Tensor(), grad_weight);
    }
  });
  if (output_mask[2]) grad_bias = reduce_sum(g, {0}, /*keepdim=*/false);
  return {grad_input, grad_weight, grad_bias};
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CUDA, m) {
  m.impl("linear", &linear_cuda);
  m.impl("linear_backward", &linear_backward_cuda);
}

}  // namespace torchext::cuda
