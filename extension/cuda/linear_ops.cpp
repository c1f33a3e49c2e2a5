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

#include "gemm.h"
#include "host_utils.h"
#include "reduce_ops.h"

namespace torchext::cuda {
namespace {

void check_operands(const char* op, const at::Tensor& input, const at::Tensor& weight) {
  check_float(op, "input", input);
  check_float_on(op, "weight", weight, "input", input);
  check_same_dtype(op, "input", input, "weight", weight);
  TORCH_CHECK(input.dim() >= 1, op, ": expected input to have at least 1 dimension but got a 0-D tensor");
  check_dim(op, "weight", weight, 2);
  TORCH_CHECK(input.size(-1) == weight.size(1), op, ": expected input's last dimension (",
              input.size(-1), ") to equal weight's in_features (", weight.size(1),
              "), but input has shape ", input.sizes(), " and weight has shape ", weight.sizes());
}

int64_t leading_rows(const at::Tensor& input) {
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < input.dim(); ++d) rows *= input.size(d);
  return rows;
}

std::vector<int64_t> output_shape(const at::Tensor& input, int64_t out_features) {
  std::vector<int64_t> shape(input.sizes().begin(), input.sizes().end());
  shape.back() = out_features;
  return shape;
}

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
  check_operands(op, input, weight);
  const int64_t M = leading_rows(input), K = weight.size(1), N = weight.size(0);
  at::Tensor bias;
  if (bias_opt.has_value() && bias_opt->defined()) {
    bias = *bias_opt;
    check_float_on(op, "bias", bias, "input", input);
    check_same_dtype(op, "input", input, "bias", bias);
    TORCH_CHECK(bias.dim() == 1 && bias.size(0) == N, op, ": expected bias of shape [", N,
                "] (weight's out_features) but got ", bias.sizes());
  }
  c10::cuda::CUDAGuard guard(input.device());
  auto out = at::empty({M, N}, input.options());
  const auto x = input.reshape({M, K});
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, input.scalar_type(), "torchext_linear", [&] {
    // y = x @ W^T: W^T is W with its strides swapped.
    product<scalar_t>(M, N, K, x, layout_of(x), weight, layout_of(weight, true), bias, out);
  });
  return out.view(output_shape(input, N));
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> linear_backward_cuda(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight,
    std::array<bool, 3> output_mask) {
  const char* op = "torchext.linear_backward";
  check_operands(op, input, weight);
  check_float_on(op, "grad_output", grad_output, "input", input);
  check_same_dtype(op, "grad_output", grad_output, "input", input);
  const int64_t M = leading_rows(input), K = weight.size(1), N = weight.size(0);
  const auto expected = output_shape(input, N);
  TORCH_CHECK(grad_output.sizes() == at::IntArrayRef(expected), op,
              ": expected grad_output of shape ", at::IntArrayRef(expected), " but got ",
              grad_output.sizes());
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
