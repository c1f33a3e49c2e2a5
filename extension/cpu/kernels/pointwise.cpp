// The loops of the pointwise activations: each functor of ../../pointwise_functors.h run over a
// broadcast layout in fixed blocks (block_loop.h: vectorized, every element through the same
// code, so the values do not depend on the thread count) with the vectorizable math of
// simd_math.h. setup.py compiles this file with -fno-trapping-math (cpu_flags.py): without it
// GCC keeps the functors' selects as branches and the loops stay scalar.
#include <algorithm>
#include <array>

#include "../pointwise_dispatch.h"
#include "block_loop.h"
#include "simd_math.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY {
namespace {

template <typename Op, typename T = typename Op::value_type>
void pointwise_forward(const Op& op, const BroadcastLayout<1>& layout, T* out,
                       const std::array<const T*, 1>& in) {
  for_each_element_blocked(layout, out, in, [op](T x) { return op.template forward<SimdMath>(x); });
}

template <typename Op, typename T = typename Op::value_type>
void pointwise_backward(const Op& op, const BroadcastLayout<2>& layout, T* out,
                        const std::array<const T*, 2>& in) {
  for_each_element_blocked(layout, out, in,
                           [op](T g, T s) { return op.template backward<SimdMath>(g, s); });
}

template <typename Op, typename T = typename Op::value_type>
void pointwise_double_backward(const Op& op, const BroadcastLayout<3>& layout, T* out,
                               const std::array<const T*, 3>& in) {
  for_each_element_blocked(layout, out, in, [op](T gg, T g, T s) {
    return op.template double_backward<SimdMath>(gg, g, s);
  });
}

template <typename Op, typename T = typename Op::value_type>
void pointwise_forward_keep(const Op& op, int64_t n, T* self, T* __restrict__ saved) {
  const auto f = [op](T x) { return op.template forward<SimdMath>(x); };
  parallel_chunks(n, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; i += kBlockWidth) {  // one block in cache for both passes
      const int64_t m = std::min(kBlockWidth, end - i);
      std::copy_n(self + i, m, saved + i);
      blocked_row<T, 1>(self + i, {saved + i}, {1}, m, f);
    }
  });
}

}  // namespace
}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY

#define TORCHEXT_REGISTER_POINTWISE_KIND(Kind, Op, function)                                 \
  TORCHEXT_REGISTER_DISPATCH(torchext::cpu::Kind<Op<float>>, function<Op<float>>);            \
  TORCHEXT_REGISTER_DISPATCH(torchext::cpu::Kind<Op<double>>, function<Op<double>>)
#define TORCHEXT_REGISTER_POINTWISE(Op)                                       \
  TORCHEXT_REGISTER_POINTWISE_KIND(PointwiseForward, Op, pointwise_forward);  \
  TORCHEXT_REGISTER_POINTWISE_KIND(PointwiseBackward, Op, pointwise_backward)
#define TORCHEXT_REGISTER_POINTWISE_KEEP(Op) \
  TORCHEXT_REGISTER_POINTWISE_KIND(PointwiseForwardKeep, Op, pointwise_forward_keep)
#define TORCHEXT_REGISTER_POINTWISE_SECOND_ORDER(Op) \
  TORCHEXT_REGISTER_POINTWISE_KIND(PointwiseDoubleBackward, Op, pointwise_double_backward)

TORCHEXT_REGISTER_POINTWISE(torchext::pointwise::Sigmoid);
TORCHEXT_REGISTER_POINTWISE_SECOND_ORDER(torchext::pointwise::Sigmoid);
TORCHEXT_REGISTER_POINTWISE(torchext::pointwise::Silu);
TORCHEXT_REGISTER_POINTWISE_KEEP(torchext::pointwise::Silu);
TORCHEXT_REGISTER_POINTWISE_SECOND_ORDER(torchext::pointwise::Silu);
TORCHEXT_REGISTER_POINTWISE(torchext::pointwise::Hardtanh);
TORCHEXT_REGISTER_POINTWISE(torchext::pointwise::Hardswish);
TORCHEXT_REGISTER_POINTWISE_KEEP(torchext::pointwise::Hardswish);
TORCHEXT_REGISTER_POINTWISE_SECOND_ORDER(torchext::pointwise::Hardswish);
TORCHEXT_REGISTER_POINTWISE(torchext::pointwise::Hardsigmoid);
TORCHEXT_REGISTER_POINTWISE_KEEP(torchext::pointwise::Hardsigmoid);
TORCHEXT_REGISTER_POINTWISE(torchext::pointwise::Gelu);
TORCHEXT_REGISTER_POINTWISE_SECOND_ORDER(torchext::pointwise::Gelu);
TORCHEXT_REGISTER_POINTWISE(torchext::pointwise::GeluTanh);
TORCHEXT_REGISTER_POINTWISE_SECOND_ORDER(torchext::pointwise::GeluTanh);
