// dropout, stochastic_depth and their backward (CPU): the generator state in and out, checks and
// allocation; the loops are kernels/dropout.cpp.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <cstring>
#include <tuple>

#include "../dropout_args.h"
#include "dropout_dispatch.h"

namespace torchext::cpu {
namespace {

using Tensors3 = std::tuple<at::Tensor, at::Tensor, at::Tensor>;

// torch.get_rng_state()'s bytes (CPUGeneratorImplState): the legacy pod's seed (u64), left
// (int32), seeded (int32), next (u64) and 624 state words stored as u64; then unused fields.
constexpr int64_t kStateBytes = 5056;
constexpr int64_t kLeftAt = 8, kNextAt = 16, kWordsAt = 24;

Mt19937State read_state(const char* op, const at::Tensor& bytes) {
  check_rng_state(op, bytes, kStateBytes, "torch.get_rng_state()");
  const uint8_t* p = bytes.contiguous().const_data_ptr<uint8_t>();
  Mt19937State s;
  uint64_t next, word;
  std::memcpy(&s.left, p + kLeftAt, sizeof(s.left));
  std::memcpy(&next, p + kNextAt, sizeof(next));
  TORCH_CHECK(s.left >= 1 && s.left <= Mt19937State::kN && next <= uint64_t(Mt19937State::kN), op,
              ": rng_state is not a valid MT19937 state (left ", s.left, ", next ", next, ")");
  s.next = uint32_t(next);
  for (int i = 0; i < Mt19937State::kN; ++i) {
    std::memcpy(&word, p + kWordsAt + 8 * i, sizeof(word));
    s.state[i] = uint32_t(word);
  }
  return s;
}

// `bytes` with the engine's fields replaced by s's.
at::Tensor write_state(const at::Tensor& bytes, const Mt19937State& s) {
  at::Tensor out = at::empty({kStateBytes}, bytes.options());
  uint8_t* p = out.mutable_data_ptr<uint8_t>();
  std::memcpy(p, bytes.contiguous().const_data_ptr<uint8_t>(), kStateBytes);
  const uint64_t next = s.next;
  std::memcpy(p + kLeftAt, &s.left, sizeof(s.left));
  std::memcpy(p + kNextAt, &next, sizeof(next));
  for (int i = 0; i < Mt19937State::kN; ++i) {
    const uint64_t word = s.state[i];
    std::memcpy(p + kWordsAt + 8 * i, &word, sizeof(word));
  }
  return out;
}

// out = x * noise over `groups` runs of `inner` values (out may be x), the mask drawn from
// rng_state; returns the advanced state. Without `draw` (dropout's p = 1, which native computes
// as x * 0) nothing is kept and the generator does not move.
at::Tensor draw_and_scale(const char* op, const at::Tensor& x, double p, int64_t groups, int64_t inner,
                          at::Tensor& mask, at::Tensor& out, const at::Tensor& rng_state, bool draw = true) {
  Mt19937State s = read_state(op, rng_state);
  const double keep_prob = 1.0 - p;
  uint8_t* keep = mask.mutable_data_ptr<uint8_t>();
  if (draw) {
    DispatchStub<DropoutDrawKernel>::get()(s, keep_prob, groups, keep);
  } else {
    std::memset(keep, 0, static_cast<size_t>(groups));
  }
  AT_DISPATCH_FLOATING_TYPES(x.scalar_type(), "torchext_dropout", [&] {
    cpu_kernel<MaskedScaleKernel, scalar_t>()(x.const_data_ptr<scalar_t>(), keep, groups, inner, keep_prob,
                                              out.mutable_data_ptr<scalar_t>());
  });
  return write_state(rng_state, s);
}

Tensors3 dropout_cpu(const at::Tensor& input, double p, const at::Tensor& rng_state) {
  const char* op = "torchext.dropout";
  check_float(op, "input", input);
  check_dropout_p(op, p);
  const at::Tensor x = dense_like_native(input);
  auto mask = at::empty_like(x, x.options().dtype(at::kByte));
  auto out = at::empty_like(x);
  auto state = draw_and_scale(op, x, p, x.numel(), 1, mask, out, rng_state, p < 1.0);
  return {out, mask, state};
}

// In place: a dense self is scaled where it lies; another is computed densely and copied back
// (as relu_).
std::tuple<at::Tensor, at::Tensor> dropout__cpu(at::Tensor& self, double p, const at::Tensor& rng_state) {
  const char* op = "torchext.dropout_";
  check_float(op, "self", self);
  check_dropout_p(op, p);
  at::Tensor x = dense_like_native(self);
  auto mask = at::empty_like(x, x.options().dtype(at::kByte));
  auto state = draw_and_scale(op, x, p, x.numel(), 1, mask, x, rng_state, p < 1.0);
  if (!x.is_same(self)) self.copy_(x);
  return {mask, state};
}

Tensors3 stochastic_depth_cpu(const at::Tensor& input, double p, bool row, const at::Tensor& rng_state) {
  const char* op = "torchext.stochastic_depth";
  check_float(op, "input", input);
  check_dropout_p(op, p);
  TORCH_CHECK(!row || input.dim() >= 1, op,
              ": expected input with at least 1 dim (the batch) in row mode but got a 0-D tensor");
  const at::Tensor x = row ? batch_outermost(input) : dense_like_native(input);
  auto mask = at::empty(stochastic_depth_noise_shape(x, row), x.options().dtype(at::kByte));
  auto out = at::empty_like(x);
  const int64_t groups = mask.numel();
  auto state = draw_and_scale(op, x, p, groups, groups ? x.numel() / groups : 0, mask, out, rng_state);
  return {out, mask, state};
}

at::Tensor dropout_backward_cpu(const at::Tensor& grad_output, const at::Tensor& mask, double p) {
  const char* op = "torchext.dropout_backward";
  check_float(op, "grad_output", grad_output);
  check_dropout_p(op, p);
  const bool elementwise = check_dropout_mask(op, grad_output, mask);
  at::Tensor g, m = mask;
  if (elementwise) {
    m = mask.is_non_overlapping_and_dense() ? mask : mask.contiguous();
    g = grad_output.strides() == m.strides() ? grad_output
                                              : at::empty_like(m, grad_output.options()).copy_(grad_output);
  } else {
    m = mask.contiguous();
    g = batch_outermost(grad_output);
  }
  const int64_t groups = elementwise ? g.numel() : m.numel();
  auto out = at::empty_like(g);
  AT_DISPATCH_FLOATING_TYPES(g.scalar_type(), "torchext_dropout_backward", [&] {
    cpu_kernel<MaskedScaleKernel, scalar_t>()(g.const_data_ptr<scalar_t>(), m.const_data_ptr<uint8_t>(),
                                              groups, groups ? g.numel() / groups : 0, 1.0 - p,
                                              out.mutable_data_ptr<scalar_t>());
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CPU, m) {
  m.impl("dropout", &dropout_cpu);
  m.impl("dropout_", &dropout__cpu);
  m.impl("stochastic_depth", &stochastic_depth_cpu);
  m.impl("dropout_backward", &dropout_backward_cpu);
}

}  // namespace torchext::cpu
