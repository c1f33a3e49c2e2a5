// linear (CPU): y = x @ W^T + b over any leading dimensions, and its backward, on our GEMM.
//   grad_x = grad_y @ W,  grad_W = grad_y^T @ x,  grad_b = sum of grad_y over the rows.
// The leading dimensions are flattened to M rows with a reshape (a view whenever the strides
// allow); every operand is handed to the GEMM with its own strides, so transposed inputs and
// weights are read in place.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <algorithm>
#include <array>
#include <tuple>
#include <vector>

#include "../common.h"
#include "../linear_args.h"
#include "gemm_dispatch.h"
#include "linear_dispatch.h"

namespace torchext::cpu {
namespace {

// A 2-D operand of a product: pointer and element strides.
template <typename T>
struct Mat {
  const T* data;
  int64_t row_stride, col_stride;
  Mat t() const { return {data, col_stride, row_stride}; }
};

template <typename T>
Mat<T> as_mat(const at::Tensor& t) {
  return {t.const_data_ptr<T>(), t.stride(0), t.stride(1)};
}

// out [M, N] (row-major, contiguous) = a [M, K] @ b [K, N]; an empty sum gives zeros.
template <typename T>
void product(int64_t M, int64_t N, int64_t K, Mat<T> a, Mat<T> b, T* out) {
  if (M == 0 || N == 0) return;
  if (K == 0) {
    std::fill(out, out + M * N, T(0));
    return;
  }
  gemm<T>(M, N, K, T(1), a.data, a.row_stride, a.col_stride, b.data, b.row_stride, b.col_stride,
          T(0), out, N, 1);
}

at::Tensor linear_cpu(const at::Tensor& input, const at::Tensor& weight,
                      const std::optional<at::Tensor>& bias_opt) {
  const char* op = "torchext.linear";
  const LinearArgs s = linear_args(op, input, weight);
  const int64_t M = s.M, K = s.K, N = s.N;
  at::Tensor bias;
  if (bias_opt.has_value() && bias_opt->defined()) {
    bias = bias_opt->contiguous();
    check_linear_bias(op, bias, input, s);
  }
  // Allocated in its final shape (contiguous, so the GEMM writes it as M x N): a view of an
  // M x N result would be an output that in-place ops (relu_, hardswish_) may not modify.
  auto out = at::empty(linear_output_shape(input, N), input.options());
  auto x = input.reshape({M, K});
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "torchext_linear", [&] {
    scalar_t* o = out.mutable_data_ptr<scalar_t>();
    // y = x @ W^T: W^T is W with its strides swapped.
    product<scalar_t>(M, N, K, as_mat<scalar_t>(x), as_mat<scalar_t>(weight).t(), o);
    if (bias.defined() && M * N > 0) {
      cpu_kernel<AddBiasRowsKernel, scalar_t>()(o, bias.const_data_ptr<scalar_t>(), M, N);
    }
  });
  return out;
}

std::tuple<at::Tensor, at::Tensor, at::Tensor> linear_backward_cpu(
    const at::Tensor& grad_output, const at::Tensor& input, const at::Tensor& weight,
    std::array<bool, 3> output_mask) {
  const char* op = "torchext.linear_backward";
  const LinearArgs s = linear_args(op, input, weight);
  check_linear_grad_output(op, grad_output, input, s);
  const int64_t M = s.M, K = s.K, N = s.N;

  at::Tensor grad_input, grad_weight, grad_bias;
  if (output_mask[0]) grad_input = at::empty(input.sizes(), input.options());
  if (output_mask[1]) grad_weight = at::empty({N, K}, weight.options());
  if (output_mask[2]) grad_bias = at::empty({N}, grad_output.options());
  auto g = grad_output.contiguous().view({M, N});
  AT_DISPATCH_FLOATING_TYPES(input.scalar_type(), "torchext_linear_backward", [&] {
    const auto go = as_mat<scalar_t>(g);
    if (grad_input.defined()) {  // [M, K] = grad_y [M, N] @ W [N, K]
      product<scalar_t>(M, K, N, go, as_mat<scalar_t>(weight),
                        grad_input.mutable_data_ptr<scalar_t>());
    }
    if (grad_weight.defined()) {  // [N, K] = grad_y^T [N, M] @ x [M, K]
      product<scalar_t>(N, K, M, go.t(), as_mat<scalar_t>(input.reshape({M, K})),
                        grad_weight.mutable_data_ptr<scalar_t>());
    }
    if (grad_bias.defined()) {  // column sums of the contiguous [M, N] grad_y
      cpu_kernel<BiasGradColumnsKernel, scalar_t>()(g.const_data_ptr<scalar_t>(), M, N,
                                                    grad_bias.mutable_data_ptr<scalar_t>());
    }
  });
  return {grad_input, grad_weight, grad_bias};
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CPU, m) {
  m.impl("linear", &linear_cpu);
  m.impl("linear_backward", &linear_backward_cpu);
}

}  // namespace torchext::cpu
