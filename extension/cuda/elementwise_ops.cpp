// add/sub/mul/div/pow (broadcasting, type promotion), the tensor-scalar ops and pow's backward
// (CUDA host side).
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <array>
#include <tuple>

#include "elementwise.h"
#include "host_utils.h"

namespace torchext::cuda {
namespace {

// out = a + alpha * b (Add) or a * b (Mul) over the broadcast shape, in the promoted dtype.
at::Tensor binary_cuda(const char* op, const at::Tensor& self, const at::Tensor& other,
                       BinaryOp kind, double alpha, const char* other_name = "other") {
  check_float(op, "self", self);
  check_float(op, other_name, other);
  const auto shape = broadcast_shape(op, {{"self", &self}, {other_name, &other}});
  const auto dtype = at::result_type(self, other);
  // One of them may be a 0-dim CPU tensor (a wrapped number); the other is on the GPU.
  const bool self_on_cpu = self.device().is_cpu();
  const auto& ref = self_on_cpu ? other : self;
  c10::cuda::CUDAGuard guard(ref.device());
  const auto a = on_device_of(op, "self", self, other_name, other).to(dtype).expand(shape);
  const auto b = on_device_of(op, other_name, other, "self", self).to(dtype).expand(shape);
  auto out = at::empty(shape, a.options());
  const auto ix = make_indexer<2>(shape, {a.strides(), b.strides()});
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "torchext_binary", [&] {
    binary_launch(kind, a.const_data_ptr<scalar_t>(), b.const_data_ptr<scalar_t>(),
                  out.mutable_data_ptr<scalar_t>(), out.numel(), ix, alpha);
  });
  return out;
}

at::Tensor scalar_cuda(const char* op, const at::Tensor& self, ScalarOp kind,
                       const at::Scalar& other, const at::Scalar& alpha) {
  check_float(op, "self", self);
  check_real_scalar(op, kind == ScalarOp::Pow ? "exponent" : "other", other);
  check_real_scalar(op, "alpha", alpha);
  c10::cuda::CUDAGuard guard(self.device());
  const auto x = self.contiguous();
  auto out = at::empty_like(x);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "torchext_scalar_op", [&] {
    scalar_op_launch(kind, x.const_data_ptr<scalar_t>(), out.mutable_data_ptr<scalar_t>(),
                     x.numel(), other.toDouble(), alpha.toDouble());
  });
  return out;
}

at::Tensor add_cuda(const at::Tensor& self, const at::Tensor& other, const at::Scalar& alpha) {
  check_real_scalar("torchext.add", "alpha", alpha);
  return binary_cuda("torchext.add", self, other, BinaryOp::Add, alpha.toDouble());
}

at::Tensor sub_cuda(const at::Tensor& self, const at::Tensor& other, const at::Scalar& alpha) {
  check_real_scalar("torchext.sub", "alpha", alpha);
  return binary_cuda("torchext.sub", self, other, BinaryOp::Add, -alpha.toDouble());
}

at::Tensor mul_cuda(const at::Tensor& self, const at::Tensor& other) {
  return binary_cuda("torchext.mul", self, other, BinaryOp::Mul, 1.0);
}

at::Tensor div_cuda(const at::Tensor& self, const at::Tensor& other) {
  return binary_cuda("torchext.div", self, other, BinaryOp::Div, 1.0);
}

at::Tensor pow_cuda(const at::Tensor& self, const at::Tensor& exponent) {
  return binary_cuda("torchext.pow", self, exponent, BinaryOp::Pow, 1.0, "exponent");
}

// Both gradients over grad_output's (the broadcast) shape; the caller reduces them.
std::tuple<at::Tensor, at::Tensor> pow_backward_cuda(const at::Tensor& grad_output, const at::Tensor& self,
                                                     const at::Tensor& exponent, const at::Tensor& result,
                                                     std::array<bool, 2> output_mask) {
  const char* op = "torchext.pow_backward";
  const std::array<std::pair<const char*, const at::Tensor*>, 4> named{
      {{"grad_output", &grad_output}, {"self", &self}, {"exponent", &exponent}, {"result", &result}}};
  for (const auto& [name, t] : named) {
    check_float(op, name, *t);
    check_broadcastable_to(op, name, *t, grad_output.sizes(), "grad_output");
  }
  TORCH_CHECK(result.sizes() == grad_output.sizes(), op, ": expected result of grad_output's shape ",
              grad_output.sizes(), " but got ", result.sizes());
  c10::cuda::CUDAGuard guard(grad_output.device());
  const auto shape = grad_output.sizes();
  const auto dtype = grad_output.scalar_type();
  std::array<at::Tensor, 4> in;
  for (size_t k = 0; k < 4; ++k) {
    in[k] = on_device_of(op, named[k].first, *named[k].second, "grad_output", grad_output);
  }
  const auto result_here = in[3];
  // exponent - 1 in the exponent's dtype, as native subtracts before promoting.
  const auto e = in[2].contiguous();
  auto e_minus_one = at::empty_like(e);
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, e.scalar_type(), "torchext_pow_backward", [&] {
    scalar_op_launch(ScalarOp::Add, e.const_data_ptr<scalar_t>(), e_minus_one.mutable_data_ptr<scalar_t>(),
                     e.numel(), -1.0, 1.0);
  });
  at::Tensor grads[2];
  for (int k = 0; k < 2; ++k) {
    if (!output_mask[k]) continue;
    in[3] = k == 0 ? e_minus_one : result_here;
    for (auto& t : in) t = t.to(dtype).expand(shape);
    const auto ix = make_indexer<4>(shape, {in[0].strides(), in[1].strides(), in[2].strides(), in[3].strides()});
    grads[k] = at::empty(shape, grad_output.options());
    AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, dtype, "torchext_pow_backward", [&] {
      pow_backward_launch(k == 1, in[0].const_data_ptr<scalar_t>(), in[1].const_data_ptr<scalar_t>(),
                          in[2].const_data_ptr<scalar_t>(), in[3].const_data_ptr<scalar_t>(),
                          grads[k].mutable_data_ptr<scalar_t>(), grads[k].numel(), ix);
    });
  }
  return {grads[0], grads[1]};
}

at::Tensor div_scalar_cuda(const at::Tensor& self, const at::Scalar& other) {
  return scalar_cuda("torchext.div_scalar", self, ScalarOp::Div, other, 1);
}

at::Tensor rdiv_scalar_cuda(const at::Tensor& self, const at::Scalar& other) {
  return scalar_cuda("torchext.rdiv_scalar", self, ScalarOp::RDiv, other, 1);
}

at::Tensor add_scalar_cuda(const at::Tensor& self, const at::Scalar& other, const at::Scalar& alpha) {
  return scalar_cuda("torchext.add_scalar", self, ScalarOp::Add, other, alpha);
}

at::Tensor rsub_scalar_cuda(const at::Tensor& self, const at::Scalar& other, const at::Scalar& alpha) {
  return scalar_cuda("torchext.rsub_scalar", self, ScalarOp::RSub, other, alpha);
}

at::Tensor mul_scalar_cuda(const at::Tensor& self, const at::Scalar& other) {
  return scalar_cuda("torchext.mul_scalar", self, ScalarOp::Mul, other, 1);
}

at::Tensor pow_scalar_cuda(const at::Tensor& self, const at::Scalar& exponent) {
  return scalar_cuda("torchext.pow_scalar", self, ScalarOp::Pow, exponent, 1);
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CUDA, m) {
  m.impl("add", &add_cuda);
  m.impl("sub", &sub_cuda);
  m.impl("mul", &mul_cuda);
  m.impl("add_scalar", &add_scalar_cuda);
  m.impl("rsub_scalar", &rsub_scalar_cuda);
  m.impl("mul_scalar", &mul_scalar_cuda);
  m.impl("pow_scalar", &pow_scalar_cuda);
  m.impl("div", &div_cuda);
  m.impl("div_scalar", &div_scalar_cuda);
  m.impl("rdiv_scalar", &rdiv_scalar_cuda);
  m.impl("pow", &pow_cuda);
  m.impl("pow_backward", &pow_backward_cuda);
}

}  // namespace torchext::cuda
