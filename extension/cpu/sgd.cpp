// The fused multi-tensor SGD step (CPU): one parallel pass over every element of every
// parameter of a bucket, bit-for-bit equal to torch.optim.SGD's single-tensor path.
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

#include <algorithm>
#include <cmath>
#include <vector>

#include "../common.h"
#include "../sgd_args.h"
#include "loops.h"

namespace torchext::cpu {
namespace {

enum class Momentum { kNone, kFirstStep, kUpdate };

template <typename T>
struct SgdScalars {
  T lr_neg, weight_decay, momentum, one_minus_dampening;
};

// One contiguous run of n elements of one parameter. The flags are template arguments so that
// each combination compiles to a branch-free, vectorizable loop.
template <typename T, bool kMaximize, bool kWeightDecay, Momentum kMomentum, bool kNesterov>
void sgd_run(T* __restrict__ p, const T* __restrict__ grad, T* __restrict__ buf, int64_t n,
             SgdScalars<T> s) {
  for (int64_t i = 0; i < n; ++i) {
    T g = kMaximize ? -grad[i] : grad[i];
    if constexpr (kWeightDecay) g = std::fma(p[i], s.weight_decay, g);
    if constexpr (kMomentum != Momentum::kNone) {
      T b = kMomentum == Momentum::kFirstStep
                ? g
                : std::fma(g, s.one_minus_dampening, buf[i] * s.momentum);
      buf[i] = b;
      g = kNesterov ? std::fma(b, s.momentum, g) : b;
    }
    p[i] = std::fma(g, s.lr_neg, p[i]);
  }
}

template <typename T>
using RunFn = void (*)(T*, const T*, T*, int64_t, SgdScalars<T>);

template <typename T, bool kMaximize, bool kWeightDecay, Momentum kMomentum>
RunFn<T> pick_nesterov(bool nesterov) {
  return nesterov ? &sgd_run<T, kMaximize, kWeightDecay, kMomentum, true>
                  : &sgd_run<T, kMaximize, kWeightDecay, kMomentum, false>;
}

template <typename T, bool kMaximize, bool kWeightDecay>
RunFn<T> pick_momentum(Momentum m, bool nesterov) {
  switch (m) {
    case Momentum::kNone: return &sgd_run<T, kMaximize, kWeightDecay, Momentum::kNone, false>;
    case Momentum::kFirstStep:
      return pick_nesterov<T, kMaximize, kWeightDecay, Momentum::kFirstStep>(nesterov);
    default: return pick_nesterov<T, kMaximize, kWeightDecay, Momentum::kUpdate>(nesterov);
  }
}

template <typename T>
RunFn<T> pick_run(bool maximize, bool weight_decay, Momentum m, bool nesterov) {
  if (maximize) {
    return weight_decay ? pick_momentum<T, true, true>(m, nesterov)
                        : pick_momentum<T, true, false>(m, nesterov);
  }
  return weight_decay ? pick_momentum<T, false, true>(m, nesterov)
                      : pick_momentum<T, false, false>(m, nesterov);
}

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
  const Momentum mode = !use_momentum ? Momentum::kNone
                        : first_step  ? Momentum::kFirstStep
                                      : Momentum::kUpdate;

  AT_DISPATCH_FLOATING_TYPES(params[0].scalar_type(), "torchext_sgd_step_", [&] {
    const SgdScalars<scalar_t> s{static_cast<scalar_t>(-lr), static_cast<scalar_t>(weight_decay),
                                 static_cast<scalar_t>(momentum),
                                 static_cast<scalar_t>(1.0 - dampening)};
    const RunFn<scalar_t> run = pick_run<scalar_t>(maximize, weight_decay != 0, mode, nesterov);
    const auto ptrs = work.pointers<scalar_t>();
    // Parallel over all elements of all params; each chunk finds the params it overlaps.
    parallel_chunks(offsets.back(), [&](int64_t begin, int64_t end) {
      size_t i = std::upper_bound(offsets.begin(), offsets.end(), begin) - offsets.begin() - 1;
      for (int64_t pos = begin; pos < end; ++i) {
        const int64_t lo = pos - offsets[i];
        const int64_t hi = std::min(end, offsets[i + 1]) - offsets[i];
        if (hi > lo) {
          run(ptrs.params[i] + lo, ptrs.grads[i] + lo,
              use_momentum ? ptrs.bufs[i] + lo : nullptr, hi - lo, s);
        }
        pos = offsets[i] + hi;
      }
    });
  });

  work.write_back(params, momentum_buffers);
}

}  // namespace

TORCH_LIBRARY_IMPL(torchext, CPU, m) {
  m.impl("sgd_step_", &sgd_step__cpu);
}

}  // namespace torchext::cpu
