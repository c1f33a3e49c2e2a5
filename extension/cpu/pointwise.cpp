// The pointwise activations on the CPU: sigmoid, silu, hardtanh (relu6), hardswish, hardsigmoid
// and gelu, each forward, backward, double backward where it has one, and in-place forms; every
// one is its functor (../pointwise_functors.h) through the templates of pointwise_ops.h.
#include <torch/library.h>

#include "../pointwise_args.h"
#include "pointwise_ops.h"

namespace torchext::cpu {
namespace {

namespace pw = torchext::pointwise;

// The functor for a parameterless op, for the dtype of its argument.
template <template <typename> class Op>
constexpr auto plain = [](auto t) { return Op<decltype(t)>{}; };

template <template <typename> class Op>
at::Tensor forward(const char* name, const at::Tensor& self) {
  check_float(name, "self", self);
  return pointwise<PointwiseForward, 1>({self}, plain<Op>);
}

template <template <typename> class Op>
at::Tensor backward(const char* name, const char* saved_name, const at::Tensor& grad,
                    const at::Tensor& saved) {
  check_pointwise_operands(name, {{"grad_output", &grad}, {saved_name, &saved}});
  return pointwise<PointwiseBackward, 2>({grad, saved}, plain<Op>);
}

template <template <typename> class Op>
at::Tensor double_backward(const char* name, const char* saved_name, const at::Tensor& grad_grad,
                           const at::Tensor& grad, const at::Tensor& saved) {
  check_pointwise_operands(
      name, {{"grad_grad", &grad_grad}, {"grad_output", &grad}, {saved_name, &saved}});
  return pointwise<PointwiseDoubleBackward, 3>({grad_grad, grad, saved}, plain<Op>);
}

template <template <typename> class Op>
at::Tensor inplace_keep(const char* name, at::Tensor& self, bool keep_input) {
  check_float(name, "self", self);
  return pointwise_inplace_keep(self, keep_input, plain<Op>);
}

at::Tensor sigmoid(const at::Tensor& self) { return forward<pw::Sigmoid>("torchext.sigmoid", self); }
void sigmoid_(at::Tensor& self) {
  check_float("torchext.sigmoid_", "self", self);
  pointwise_inplace(self, plain<pw::Sigmoid>);
}
at::Tensor sigmoid_backward(const at::Tensor& grad, const at::Tensor& output) {
  return backward<pw::Sigmoid>("torchext.sigmoid_backward", "output", grad, output);
}
at::Tensor sigmoid_double_backward(const at::Tensor& gg, const at::Tensor& grad, const at::Tensor& output) {
  return double_backward<pw::Sigmoid>("torchext.sigmoid_double_backward", "output", gg, grad, output);
}

at::Tensor silu(const at::Tensor& self) { return forward<pw::Silu>("torchext.silu", self); }
at::Tensor silu_(at::Tensor& self, bool keep_input) {
  return inplace_keep<pw::Silu>("torchext.silu_", self, keep_input);
}
at::Tensor silu_backward(const at::Tensor& grad, const at::Tensor& self) {
  return backward<pw::Silu>("torchext.silu_backward", "self", grad, self);
}
at::Tensor silu_double_backward(const at::Tensor& gg, const at::Tensor& grad, const at::Tensor& self) {
  return double_backward<pw::Silu>("torchext.silu_double_backward", "self", gg, grad, self);
}

auto hardtanh_op(double min_val, double max_val) {
  return [=](auto t) {
    using T = decltype(t);
    return pw::Hardtanh<T>{static_cast<T>(min_val), static_cast<T>(max_val)};
  };
}
at::Tensor hardtanh(const at::Tensor& self, double min_val, double max_val) {
  const char* name = "torchext.hardtanh";
  check_float(name, "self", self);
  check_hardtanh_bounds(name, min_val, max_val);
  return pointwise<PointwiseForward, 1>({self}, hardtanh_op(min_val, max_val));
}
void hardtanh_(at::Tensor& self, double min_val, double max_val) {
  const char* name = "torchext.hardtanh_";
  check_float(name, "self", self);
  check_hardtanh_bounds(name, min_val, max_val);
  pointwise_inplace(self, hardtanh_op(min_val, max_val));
}
at::Tensor hardtanh_backward(const at::Tensor& grad, const at::Tensor& self, double min_val,
                             double max_val) {
  const char* name = "torchext.hardtanh_backward";
  check_pointwise_operands(name, {{"grad_output", &grad}, {"self", &self}});
  check_hardtanh_bounds(name, min_val, max_val);
  return pointwise<PointwiseBackward, 2>({grad, self}, hardtanh_op(min_val, max_val));
}

at::Tensor hardswish(const at::Tensor& self) { return forward<pw::Hardswish>("torchext.hardswish", self); }
at::Tensor hardswish_(at::Tensor& self, bool keep_input) {
  return inplace_keep<pw::Hardswish>("torchext.hardswish_", self, keep_input);
}
at::Tensor hardswish_backward(const at::Tensor& grad, const at::Tensor& self) {
  return backward<pw::Hardswish>("torchext.hardswish_backward", "self", grad, self);
}
at::Tensor hardswish_double_backward(const at::Tensor& gg, const at::Tensor& grad, const at::Tensor& self) {
  return double_backward<pw::Hardswish>("torchext.hardswish_double_backward", "self", gg, grad, self);
}

at::Tensor hardsigmoid(const at::Tensor& self) {
  return forward<pw::Hardsigmoid>("torchext.hardsigmoid", self);
}
at::Tensor hardsigmoid_(at::Tensor& self, bool keep_input) {
  return inplace_keep<pw::Hardsigmoid>("torchext.hardsigmoid_", self, keep_input);
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
  return gelu_uses_tanh(name, approximate) ? double_backward<pw::GeluTanh>(name, "self", gg, grad, self)
                                           : double_backward<pw::Gelu>(name, "self", gg, grad, self);
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CPU, m) {
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

}  // namespace torchext::cpu
