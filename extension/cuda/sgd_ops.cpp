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

  const SgdWorkingSet work(params, grads, momentum_buffers, use_momentum);
  const size_t count = params.size();
  std::vector<int64_t> sizes(count);
  for (size_t i = 0; i < count; ++i) sizes[i] = params[i].numel();
  const SgdConfig config{lr, momentum, dampening, weight_decay, nesterov, maximize, first_step};
  AT_DISPATCH_FLOATING_TYPES_AND2(at::kHalf, at::kBFloat16, params[0].scalar_type(), "torchext_sgd_step_", [&] {
    const auto ptrs = work.pointers<scalar_t>();
    sgd_step_launch(ptrs.params.data(), ptrs.grads.data(), use_momentum ? ptrs.bufs.data() : nullptr,
                    sizes.data(), static_cast<int64_t>(count), config);
  });
  work.write_back(params, momentum_buffers);
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CUDA, m) {
  m.impl("sgd_step_", &sgd_step__cuda);
}

}  // namespace torchext::cuda
