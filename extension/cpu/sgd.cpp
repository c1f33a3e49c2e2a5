// The fused multi-tensor SGD step (CPU): checks, and the working set of contiguous tensors; the
// pass over every element of every parameter of a bucket is kernels/sgd.cpp, bit-for-bit equal
// to torch.optim.SGD's single-tensor path:
//
// Per element, in the order (and with the roundings) ATen's ops produce them:
//   g = maximize ? -grad : grad
//   g = g + wd * p                    (grad.add(param, alpha=wd): one fused multiply-add)
//   buf = first_step ? g : buf * mu + (1 - dampening) * g   (mul_ rounds, then add_ is an fma)
//   g = nesterov ? g + mu * buf : buf
//   p = p - lr * g                    (param.add_(g, alpha=-lr): an fma)
// Scalars are rounded to the tensor dtype first, as ATen does with `alpha`.
#include <ATen/ATen.h>
#include <ATen/Dispatch.h>
#include <torch/library.h>

#include <vector>

#include "../common.h"
#include "../sgd_args.h"
#include "sgd_dispatch.h"

namespace torchext::cpu {
namespace {

void sgd_step__cpu(at::TensorList params, at::TensorList grads, at::TensorList momentum_buffers,
                   double lr, double momentum, double dampening, double weight_decay, bool nesterov,
                   bool maximize, bool first_step) {
  const bool use_momentum = momentum != 0;
  check_sgd_step_args(params, grads, momentum_buffers, momentum, dampening, nesterov);
  if (params.empty()) return;

  const SgdWorkingSet work(params, grads, momentum_buffers, use_momentum);
  const size_t count = params.size();
  std::vector<int64_t> offsets(count + 1, 0);  // prefix sums of numel: the flattened work list
  for (size_t i = 0; i < count; ++i) offsets[i + 1] = offsets[i] + params[i].numel();
  const SgdMomentum mode = !use_momentum ? SgdMomentum::kNone
                           : first_step  ? SgdMomentum::kFirstStep
                                         : SgdMomentum::kUpdate;

  AT_DISPATCH_FLOATING_TYPES(params[0].scalar_type(), "torchext_sgd_step_", [&] {
    const SgdStep<scalar_t> step{static_cast<scalar_t>(-lr), static_cast<scalar_t>(weight_decay),
                                 static_cast<scalar_t>(momentum),
                                 static_cast<scalar_t>(1.0 - dampening), maximize, nesterov,
                                 weight_decay != 0, mode};
    const auto ptrs = work.pointers<scalar_t>();
    cpu_kernel<SgdStepKernel, scalar_t>()(step, static_cast<int64_t>(count), offsets.data(),
                                          ptrs.params.data(), ptrs.grads.data(), ptrs.bufs.data());
  });

  work.write_back(params, momentum_buffers);
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CPU, m) {
  m.impl("sgd_step_", &sgd_step__cpu);
}

}  // namespace torchext::cpu
