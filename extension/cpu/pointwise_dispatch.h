// The CPU kernels of the pointwise activations (kernels/pointwise.cpp): one template per kind of
// loop, instantiated for every functor of ../pointwise_functors.h and dispatched to the capability
// in use (dispatch.h). A new activation needs its functor, TORCHEXT_DECLARE_POINTWISE* lines here and the
// matching TORCHEXT_REGISTER_POINTWISE* lines in kernels/pointwise.cpp.
#pragma once
#include <array>
#include <cstdint>

#include "../pointwise_functors.h"
#include "broadcast_layout.h"
#include "dispatch.h"

namespace torchext::cpu {

// out = op.forward(in) over the layout.
template <typename Op>
struct PointwiseForward {
  using T = typename Op::value_type;
  using Fn = void(const Op& op, const BroadcastLayout<1>& layout, T* out,
                  const std::array<const T*, 1>& in);
};

// out = op.backward(grad, saved).
template <typename Op>
struct PointwiseBackward {
  using T = typename Op::value_type;
  using Fn = void(const Op& op, const BroadcastLayout<2>& layout, T* out,
                  const std::array<const T*, 2>& grad_saved);
};

// out = op.double_backward(grad_grad, grad, saved).
template <typename Op>
struct PointwiseDoubleBackward {
  using T = typename Op::value_type;
  using Fn = void(const Op& op, const BroadcastLayout<3>& layout, T* out,
                  const std::array<const T*, 3>& gg_grad_saved);
};

// In place over n contiguous elements, keeping the input for the backward: saved = self,
// self = op.forward(self), in one pass.
template <typename Op>
struct PointwiseForwardKeep {
  using T = typename Op::value_type;
  using Fn = void(const Op& op, int64_t n, T* self, T* saved);
};

}  // namespace torchext::cpu

// Each op declares forward and backward; _KEEP where an in-place form keeps its input for the
// backward, _SECOND_ORDER where it has a double backward.
#define TORCHEXT_DECLARE_POINTWISE_KIND(Kind, Op)           \
  TORCHEXT_DECLARE_DISPATCH(torchext::cpu::Kind<Op<float>>); \
  TORCHEXT_DECLARE_DISPATCH(torchext::cpu::Kind<Op<double>>)
#define TORCHEXT_DECLARE_POINTWISE(Op)                   \
  TORCHEXT_DECLARE_POINTWISE_KIND(PointwiseForward, Op); \
  TORCHEXT_DECLARE_POINTWISE_KIND(PointwiseBackward, Op)
#define TORCHEXT_DECLARE_POINTWISE_KEEP(Op) TORCHEXT_DECLARE_POINTWISE_KIND(PointwiseForwardKeep, Op)
#define TORCHEXT_DECLARE_POINTWISE_SECOND_ORDER(Op) \
  TORCHEXT_DECLARE_POINTWISE_KIND(PointwiseDoubleBackward, Op)

TORCHEXT_DECLARE_POINTWISE(torchext::pointwise::Sigmoid);
TORCHEXT_DECLARE_POINTWISE_SECOND_ORDER(torchext::pointwise::Sigmoid);
TORCHEXT_DECLARE_POINTWISE(torchext::pointwise::Silu);
TORCHEXT_DECLARE_POINTWISE_KEEP(torchext::pointwise::Silu);
TORCHEXT_DECLARE_POINTWISE_SECOND_ORDER(torchext::pointwise::Silu);
TORCHEXT_DECLARE_POINTWISE(torchext::pointwise::Hardtanh);
TORCHEXT_DECLARE_POINTWISE(torchext::pointwise::Hardswish);
TORCHEXT_DECLARE_POINTWISE_KEEP(torchext::pointwise::Hardswish);
TORCHEXT_DECLARE_POINTWISE_SECOND_ORDER(torchext::pointwise::Hardswish);
TORCHEXT_DECLARE_POINTWISE(torchext::pointwise::Hardsigmoid);
TORCHEXT_DECLARE_POINTWISE_KEEP(torchext::pointwise::Hardsigmoid);
TORCHEXT_DECLARE_POINTWISE(torchext::pointwise::Gelu);
TORCHEXT_DECLARE_POINTWISE_SECOND_ORDER(torchext::pointwise::Gelu);
TORCHEXT_DECLARE_POINTWISE(torchext::pointwise::GeluTanh);
TORCHEXT_DECLARE_POINTWISE_SECOND_ORDER(torchext::pointwise::GeluTanh);
