// dropout, stochastic_depth and their backward (CUDA host side): the generator state in and out,
// checks and allocation; the kernels are dropout.cu.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <cstring>
#include <tuple>

#include "../dropout_args.h"
#include "dropout.h"
#include "host_utils.h"

namespace torchext::cuda {
namespace {

using Tensors3 = std::tuple<at::Tensor, at::Tensor, at::Tensor>;

// torch.cuda.get_rng_state()'s bytes: the seed and the Philox offset (u64 each). The offset
// advances by the draws used, rounded up to a multiple of 4 as torch.cuda.set_rng_state requires.
constexpr int64_t kStateBytes = 16;

// out = x * noise over `groups` runs of `inner` values (out may be x), the mask drawn from
// rng_state; returns the advanced state. Without `draw` (dropout's p = 1) nothing is kept and the
// offset does not move.
at::Tensor draw_and_scale(const char* op, const at::Tensor& x, double p, int64_t groups, int64_t inner,
                          at::Tensor& mask, at::Tensor& out, const at::Tensor& rng_state, bool draw = true) {
  check_rng_state(op, rng_state, kStateBytes, "torch.cuda.get_rng_state()");
  uint64_t seed_offset[2];
  std::memcpy(seed_offset, rng_state.contiguous().const_data_ptr<uint8_t>(), kStateBytes);
  c10::cuda::CUDAGuard guard(x.device());
  const double keep_prob = 1.0 - p;
  dropout_draw_launch(seed_offset[0], seed_offset[1], keep_prob, draw, groups, mask.mutable_data_ptr<uint8_t>());
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, x.scalar_type(), "torchext_dropout", [&] {
    masked_scale_launch(x.const_data_ptr<scalar_t>(), mask.const_data_ptr<uint8_t>(), groups, inner,
                        keep_prob, out.mutable_data_ptr<scalar_t>());
  });
  if (draw) seed_offset[1] += static_cast<uint64_t>((groups + 3) / 4 * 4);
  at::Tensor state = at::empty({kStateBytes}, rng_state.options());
  std::memcpy(state.mutable_data_ptr<uint8_t>(), seed_offset, kStateBytes);
  return state;
}

Tensors3 dropout_cuda(const at::Tensor& input, double p, const at::Tensor& rng_state) {
  const char* op = "torchext.dropout";
  check_float(op, "input", input);
  check_dropout_p(op, p);
  const at::Tensor x = dense_like_native(input);
  auto mask = at::empty_like(x, x.options().dtype(at::kByte));
  auto out = at::empty_like(x);
  auto state = draw_and_scale(op, x, p, x.numel(), 1, mask, out, rng_state, p < 1.0);
  return {out, mask, state};
}

// In place: a dense self is scaled where it lies; another is computed densely and copied back.
std::tuple<at::Tensor, at::Tensor> dropout__cuda(at::Tensor& self, double p, const at::Tensor& rng_state) {
  const char* op = "torchext.dropout_";
  check_float(op, "self", self);
  check_dropout_p(op, p);
  at::Tensor x = dense_like_native(self);
  auto mask = at::empty_like(x, x.options().dtype(at::kByte));
  auto state = draw_and_scale(op, x, p, x.numel(), 1, mask, x, rng_state, p < 1.0);
  if (!x.is_same(self)) self.copy_(x);
  return {mask, state};
}

Tensors3 stochastic_depth_cuda(const at::Tensor& input, double p, bool row, const at::Tensor& rng_state) {
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

at::Tensor dropout_backward_cuda(const at::Tensor& grad_output, const at::Tensor& mask, double p) {
  const char* op = "torchext.dropout_backward";
  check_float(op, "grad_output", grad_output);
  check_dropout_p(op, p);
  const bool elementwise = check_dropout_mask(op, grad_output, mask);
  c10::cuda::CUDAGuard guard(grad_output.device());
  at::Tensor g, m;
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
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, g.scalar_type(), "torchext_dropout_backward", [&] {
    masked_scale_launch(g.const_data_ptr<scalar_t>(), m.const_data_ptr<uint8_t>(), groups,
                        groups ? g.numel() / groups : 0, 1.0 - p, out.mutable_data_ptr<scalar_t>());
  });
  return out;
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CUDA, m) {
  m.impl("dropout", &dropout_cuda);
  m.impl("dropout_", &dropout__cuda);
  m.impl("stochastic_depth", &stochastic_depth_cuda);
  m.impl("dropout_backward", &dropout_backward_cuda);
}

}  // namespace torchext::cuda
