// The fused multi-tensor SGD step (CUDA host side): checks, working views and the launch.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <vector>

#include "../sgd_args.h"
#include "host_utils.h"
#include "sgd.h"

namespace torchext::cuda {
namespace {

void sgd_step__cuda(at::TensorList params, at::TensorList grads, at::TensorList momentum_buffers,
                    double lr, double momentum, double dampening, double weight_decay,
                    bool nesterov, bool maximize, bool first_step) {
  const bool use_momentum = momentum != 0;
  check_sgd_step_args(params, grads, momentum_buffers, momentum, dampening, nesterov);
  if (params.empty()) return;
  c10::cuda::CUDAGuard guard(params[0].device());

  // Working views: the tensors themselves where they can be walked linearly together, otherwise
  // contiguous copies whose results are copied back after the step.
  const size_t count = params.size();
  std::vector<at::Tensor> p_work(count), g_work(count), b_work(count);
  std::vector<int64_t> sizes(count);
  for (size_t i = 0; i < count; ++i) {
    const auto& p = params[i];
    p_work[i] = p.is_non_overlapping_and_dense() ? p : p.contiguous();
    const bool aligned = sgd_walks_like(grads[i], p_work[i]) &&
                         (!use_momentum || sgd_walks_like(momentum_buffers[i], p_work[i]));
    if (!aligned) p_work[i] = p.contiguous();
    g_work[i] = aligned ? grads[i] : grads[i].contiguous();
    if (use_momentum) b_work[i] = aligned ? momentum_buffers[i] : momentum_buffers[i].contiguous();
    sizes[i] = p.numel();
  }
  const SgdConfig config{lr, momentum, dampening, weight_decay, nesterov, maximize, first_step};
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, params[0].scalar_type(), "torchext_sgd_step_", [&] {
    std::vector<scalar_t*> pp(count), bp(count, nullptr);
    std::vector<const scalar_t*> gp(count);
    for (size_t i = 0; i < count; ++i) {
      pp[i] = p_work[i].mutable_data_ptr<scalar_t>();
      gp[i] = g_work[i].const_data_ptr<scalar_t>();
      if (use_momentum) bp[i] = b_work[i].mutable_data_ptr<scalar_t>();
    }
    sgd_step_launch(pp.data(), gp.data(), use_momentum ? bp.data() : nullptr, sizes.data(),
                    static_cast<int64_t>(count), config);
  });
  for (size_t i = 0; i < count; ++i) {
    if (!p_work[i].is_same(params[i])) params[i].copy_(p_work[i]);
    if (use_momentum && !b_work[i].is_same(momentum_buffers[i])) momentum_buffers[i].copy_(b_work[i]);
  }
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CUDA, m) {
  m.impl("sgd_step_", &sgd_step__cuda);
}

}  // namespace torchext::cuda
