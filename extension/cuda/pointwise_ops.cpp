// The pointwise activations on CUDA (host side): checks, output allocation and the launch of each
// functor (../pointwise_functors.h) through pointwise.h, as the CPU's cpu/pointwise.cpp.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <array>

#include "../pointwise_args.h"
#include "host_utils.h"
#include "pointwise.h"

namespace torchext::cuda {
namespace {

namespace pw = torchext::pointwise;

template <template <typename> class Op>
constexpr auto plain = [](auto t) { return Op<decltype(t)>{}; };

// Flat where every operand is dense with the same strides (the output takes them), else a
// contiguous output and an indexer over the operands' strides.
template <int N>
struct Call {
  at::Tensor out;
  bool flat;
  StridedIndexer<N> ix;
};

template <int N>
Call<N> plan(const std::array<at::Tensor, N>& in) {
  const at::Tensor& first = in[0];
  bool flat = first.is_non_overlapping_and_dense();
  for (int k = 1; k < N; ++k) flat = flat && in[k].strides() == first.strides();
  if (flat) return {at::empty_like(first), true, StridedIndexer<N>{}};
  std::array<at::IntArrayRef, N> strides;
  for (int k = 0; k < N; ++k) strides[k] = in[k].strides();
  return {at::empty(first.sizes(), first.options()), false, make_indexer<N>(first.sizes(), strides)};
}

#define DISPATCH(t, ...) \
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, (t).scalar_type(), "torchext_pointwise", __VA_ARGS__)

template <typename MakeOp>
at::Tensor run_forward(const at::Tensor& self, const MakeOp& make_op) {
  c10::cuda::CUDAGuard guard(self.device());
  auto c = plan<1>({self});
  DISPATCH(self, [&] {
    pointwise_forward_launch(make_op(acc_t<scalar_t>{}), self.const_data_ptr<scalar_t>(),
                             c.out.mutable_data_ptr<scalar_t>(), self.numel(), c.flat, c.ix);
  });
  return c.out;
}

template <typename MakeOp>
at::Tensor run_backward(const at::Tensor& grad, const at::Tensor& saved, const MakeOp& make_op) {
  c10::cuda::CUDAGuard guard(saved.device());
  auto c = plan<2>({grad, saved});
  DISPATCH(saved, [&] {
    pointwise_backward_launch(make_op(acc_t<scalar_t>{}), grad.const_data_ptr<scalar_t>(),
                              saved.const_data_ptr<scalar_t>(), c.out.mutable_data_ptr<scalar_t>(),
                              saved.numel(), c.flat, c.ix);
  });
  return c.out;
}

template <template <typename> class Op>
at::Tensor run_double_backward(const char* name, const char* saved_name, const at::Tensor& gg,
                               const at::Tensor& grad, const at::Tensor& saved) {
  check_pointwise_operands(name, {{"grad_grad", &gg}, {"grad_output", &grad}, {saved_name, &saved}});
  c10::cuda::CUDAGuard guard(saved.device());
  auto c = plan<3>({gg, grad, saved});
  DISPATCH(saved, [&] {
    pointwise_double_backward_launch(Op<acc_t<scalar_t>>{}, gg.const_data_ptr<scalar_t>(),
                                     grad.const_data_ptr<scalar_t>(), saved.const_data_ptr<scalar_t>(),
                                     c.out.mutable_data_ptr<scalar_t>(), saved.numel(), c.flat, c.ix);
  });
  return c.out;
}

// In place; a self that is not dense is computed out of place and copied back, as relu_.
template <typename MakeOp>
void run_inplace(at::Tensor& self, const MakeOp& make_op) {
  if (!self.is_non_overlapping_and_dense()) {
    self.copy_(run_forward(self, make_op));
    return;
  }
  c10::cuda::CUDAGuard guard(self.device());
  DISPATCH(self, [&] {
    scalar_t* data = self.mutable_data_ptr<scalar_t>();
    pointwise_forward_launch(make_op(acc_t<scalar_t>{}), data, data, self.numel(), true,
                             StridedIndexer<1>{});
  });
}

template <template <typename> class Op>
at::Tensor run_inplace_keep(const char* name, at::Tensor& self, bool keep_input) {
  check_float(name, "self", self);
  if (!keep_input) {
    run_inplace(self, plain<Op>);
    return at::empty({0}, self.options());
  }
  if (!self.is_non_overlapping_and_dense()) {
    auto saved = self.contiguous();
    self.copy_(run_forward(saved, plain<Op>));
    return saved;
  }
  c10::cuda::CUDAGuard guard(self.device());
  auto saved = at::empty_like(self);
  DISPATCH(self, [&] {
    pointwise_forward_keep_launch(Op<acc_t<scalar_t>>{}, self.mutable_data_ptr<scalar_t>(),
                                  saved.mutable_data_ptr<scalar_t>(), self.numel());
  });
  return saved;
}

template <template <typename> class Op>
at::Tensor forward(const char* name, const at::Tensor& self) {
  check_float(name, "self", self);
  return run_forward(self, plain<Op>);
}

template <template <typename> class Op>
at::Tensor backward(const char* name, const char* saved_name, const at::Tensor& grad,
                    const at::Tensor& saved) {
  check_pointwise_operands(name, {{"grad_output", &grad}, {saved_name, &saved}});
  return run_backward(grad, saved, plain<Op>);
}

at::Tensor sigmoid(const at::Tensor& self) { return forward<pw::Sigmoid>("torchext.sigmoid", self); }
void sigmoid_(at::Tensor& self) {
  check_float("torchext.sigmoid_", "self", self);
  run_inplace(self, plain<pw::Sigmoid>);
}
at::Tensor sigmoid_backward(const at::Tensor& grad, const at::Tensor& output) {
  return backward<pw::Sigmoid>("torchext.sigmoid_backward", "output", grad, output);
}
at::Tensor sigmoid_double_backward(const at::Tensor& gg, const at::Tensor& grad, const at::Tensor& output) {
  return run_double_backward<pw::Sigmoid>("torchext.sigmoid_double_backward", "output", gg, grad, output);
}

at::Tensor silu(const at::Tensor& self) { return forward<pw::Silu>("torchext.silu", self); }
at::Tensor silu_(at::Tensor& self, bool keep_input) {
  return run_inplace_keep<pw::Silu>("torchext.silu_", self, keep_input);
}
at::Tensor silu_backward(const at::Tensor& grad, const at::Tensor& self) {
  return backward<pw::Silu>("torchext.silu_backward", "self", grad, self);
}
at::Tensor silu_double_backward(const at::Tensor& gg, const at::Tensor& grad, const at::Tensor& self) {
  return run_double_backward<pw::Silu>("torchext.silu_double_backward", "self", gg, grad, self);
}

auto hardtanh_op(double min_val, double max_val) {
  return [=](auto t) {
    using A = decltype(t);
    return pw::Hardtanh<A>{static_cast<A>(min_val), static_cast<A>(max_val)};
  };
}
at::Tensor hardtanh(const at::Tensor& self, double min_val, double max_val) {
  const char* name = "torchext.hardtanh";
  check_float(name, "self", self);
  check_hardtanh_bounds(name, min_val, max_val);
  return run_forward(self, hardtanh_op(min_val, max_val));
}
void hardtanh_(at::Tensor& self, double min_val, double max_val) {
  const char* name = "torchext.hardtanh_";
  check_float(name, "self", self);
  check_hardtanh_bounds(name, min_val, max_val);
  run_inplace(self, hardtanh_op(min_val, max_val));
}
at::Tensor hardtanh_backward(const at::Tensor& grad, const at::Tensor& self, double min_val,
                             double max_val) {
  const char* name = "torchext.hardtanh_backward";
  check_pointwise_operands(name, {{"grad_output", &grad}, {"self", &self}});
  check_hardtanh_bounds(name, min_val, max_val);
  return run_backward(grad, self, hardtanh_op(min_val, max_val));
}

at::Tensor hardswish(const at::Tensor& self) { return forward<pw::Hardswish>("torchext.hardswish", self); }
at::Tensor hardswish_(at::Tensor& self, bool keep_input) {
  return run_inplace_keep<pw::Hardswish>("torchext.hardswish_", self, keep_input);
}
at::Tensor hardswish_backward(const at::Tensor& grad, const at::Tensor& self) {
  return backward<pw::Hardswish>("torchext.hardswish_backward", "self", grad, self);
}
at::Tensor hardswish_double_backward(const at::Tensor& gg, const at::Tensor& grad, const at::Tensor& self) {
  return run_double_backward<pw::Hardswish>("torchext.hardswish_double_backward", "self", gg, grad, self);
}

at::Tensor hardsigmoid(const at::Tensor& self) {
  return forward<pw::Hardsigmoid>("torchext.hardsigmoid", self);
}
at::Tensor hardsigmoid_(at::Tensor& self, bool keep_input) {
  return run_inplace_keep<pw::Hardsigmoid>("torchext.hardsigmoid_", self, keep_input);
}
at::Tensor hardsigmoid_backward(const at::Tensor& grad, const at::Tensor& self) {
  return backward<pw::Hardsigmoid>("torchext.hardsigmoid_backward", "self", grad, self);
}

at::Tensor gelu(const at::Tensor& self, c10::string_view approximate) {
  const char* name = "torchext.gelu";
  return gelu_uses_tanh(name, approximate) ? forward<pw::GeluTanh>(name, self)
                                           : forward<pw::Gelu>(name, self);
}
at::Tensor gelu_backward(const at::Tensor& grad, const at::Tensor& self, c10::string_view approximate) {
  const char* name = "torchext.gelu_backward";
  return gelu_uses_tanh(name, approximate) ? backward<pw::GeluTanh>(name, "self", grad, self)
                                           : backward<pw::Gelu>(name, "self", grad, self);
}
at::Tensor gelu_double_backward(const at::Tensor& gg, const at::Tensor& grad, const at::Tensor& self,
                                c10::string_view approximate) {
  const char* name = "torchext.gelu_double_backward";
  return gelu_uses_tanh(name, approximate)
             ? run_double_backward<pw::GeluTanh>(name, "self", gg, grad, self)
             : run_double_backward<pw::Gelu>(name, "self", gg, grad, self);
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CUDA, m) {
  m.impl("sigmoid", &sigmoid);
  m.impl("sigmoid_", &sigmoid_);
  m.impl("sigmoid_backward", &sigmoid_backward);
  m.impl("sigmoid_double_backward", &sigmoid_double_backward);
  m.impl("silu", &silu);
  m.impl("silu_", &silu_);
  m.impl("silu_backward", &silu_backward);
  m.impl("silu_double_backward", &silu_double_backward);
  m.impl("hardtanh", &hardtanh);
  m.impl("hardtanh_", &hardtanh_);
  m.impl("hardtanh_backward", &hardtanh_backward);
  m.impl("hardswish", &hardswish);
  m.impl("hardswish_", &hardswish_);
  m.impl("hardswish_backward", &hardswish_backward);
  m.impl("hardswish_double_backward", &hardswish_double_backward);
  m.impl("hardsigmoid", &hardsigmoid);
  m.impl("hardsigmoid_", &hardsigmoid_);
  m.impl("hardsigmoid_backward", &hardsigmoid_backward);
  m.impl("gelu", &gelu);
  m.impl("gelu_backward", &gelu_backward);
  m.impl("gelu_double_backward", &gelu_double_backward);
}

}  // namespace torchext::cuda
