// Generic host side of the pointwise activations (CPU): output allocation, the loop layout and the
// call of a functor's kernel (pointwise_dispatch.h) for the dtype. Callers pass make_op, which
// builds the functor for a dtype from a value of it: [](auto t) { return Sigmoid<decltype(t)>{}; }.
#pragma once
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>

#include <array>

#include "elementwise_operands.h"
#include "pointwise_dispatch.h"

namespace torchext::cpu {

template <size_t N>
struct PointwiseCall {
  at::Tensor out;
  BroadcastLayout<N> layout;
};

// One flat loop over n elements of memory.
template <size_t N>
BroadcastLayout<N> flat_layout(int64_t n) {
  BroadcastLayout<N> layout;
  layout.numel = n;
  layout.sizes.push_back(n);
  for (auto& s : layout.strides) s.push_back(1);
  return layout;
}

// Where every operand is dense with the same strides (contiguous, channels_last, transposed) the
// loop walks memory in order and the output takes those strides; otherwise the output is
// contiguous and the operands are read through their strides.
template <size_t N>
PointwiseCall<N> pointwise_call(const std::array<at::Tensor, N>& in) {
  const at::Tensor& first = in[0];
  bool flat = first.is_non_overlapping_and_dense();
  for (size_t k = 1; k < N; ++k) flat = flat && in[k].strides() == first.strides();
  if (flat) return {at::empty_like(first), flat_layout<N>(first.numel())};
  auto out = at::empty(first.sizes(), first.options());
  return {out, broadcast_layout<N>(out.sizes(), in)};
}

// out = Kind's loop of the functor over the operands (same shape and dtype, checked by the caller).
template <template <typename> class Kind, size_t N, typename MakeOp>
at::Tensor pointwise(const std::array<at::Tensor, N>& in, const MakeOp& make_op) {
  auto call = pointwise_call<N>(in);
  AT_DISPATCH_FLOATING_TYPES(in[0].scalar_type(), "torchext_pointwise", [&] {
    using Op = decltype(make_op(scalar_t{}));
    const Op op = make_op(scalar_t{});
    std::array<const scalar_t*, N> ptrs;
    for (size_t k = 0; k < N; ++k) ptrs[k] = in[k].template const_data_ptr<scalar_t>();
    DispatchStub<Kind<Op>>::get()(op, call.layout,
                                            call.out.template mutable_data_ptr<scalar_t>(), ptrs);
  });
  return call.out;
}

// self = forward(self). A self that is not dense (a strided view) is computed out of place and
// copied back, as relu_.
template <typename MakeOp>
void pointwise_inplace(at::Tensor& self, const MakeOp& make_op) {
  if (!self.is_non_overlapping_and_dense()) {
    self.copy_(pointwise<PointwiseForward, 1>({self}, make_op));
    return;
  }
  AT_DISPATCH_FLOATING_TYPES(self.scalar_type(), "torchext_pointwise", [&] {
    using Op = decltype(make_op(scalar_t{}));
    const Op op = make_op(scalar_t{});
    scalar_t* data = self.mutable_data_ptr<scalar_t>();
    DispatchStub<PointwiseForward<Op>>::get()(op, flat_layout<1>(self.numel()), data,
                                                        {data});
  });
}

// pointwise_inplace, returning the input as it was when keep_input (for a backward that needs
// it; taken in the same pass over a dense self), else an empty tensor.
template <typename MakeOp>
at::Tensor pointwise_inplace_keep(at::Tensor& self, bool keep_input, const MakeOp& make_op) {
  if (!keep_input) {
    pointwise_inplace(self, make_op);
    return at::empty({0}, self.options());
  }
  if (!self.is_non_overlapping_and_dense()) {
    auto saved = self.contiguous();
    self.copy_(pointwise<PointwiseForward, 1>({saved}, make_op));
    return saved;
  }
  auto saved = at::empty_like(self);
  AT_DISPATCH_FLOATING_TYPES(self.scalar_type(), "torchext_pointwise", [&] {
    using Op = decltype(make_op(scalar_t{}));
    const Op op = make_op(scalar_t{});
    DispatchStub<PointwiseForwardKeep<Op>>::get()(
        op, self.numel(), self.mutable_data_ptr<scalar_t>(), saved.mutable_data_ptr<scalar_t>());
  });
  return saved;
}

}  // namespace torchext::cpu
