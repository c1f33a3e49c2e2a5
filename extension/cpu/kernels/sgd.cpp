// The fused multi-tensor SGD step's kernel: one parallel pass over every element of every
// parameter of a bucket, bit-for-bit equal to torch.optim.SGD's single-tensor path.
//
// Per element, in the order (and with the roundings) ATen's ops produce them:
//   g = maximize ? -grad : grad
//   g = g + wd * p                    (grad.add(param, alpha=wd): one fused multiply-add)
//   buf = first_step ? g : buf * mu + (1 - dampening) * g   (mul_ rounds, then add_ is an fma)
//   g = nesterov ? g + mu * buf : buf
//   p = p - lr * g                    (param.add_(g, alpha=-lr): an fma)
// Scalars are rounded to the tensor dtype first, as ATen does with `alpha`.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "../sgd_dispatch.h"
#include "loops.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY {
namespace {


// One contiguous run of n elements of one parameter. The flags are template arguments so that
// each combination compiles to a branch-free, vectorizable loop.
template <typename T, bool kMaximize, bool kWeightDecay, SgdMomentum kMomentum, bool kNesterov>
void sgd_run(T* __restrict__ p, const T* __restrict__ grad, T* __restrict__ buf, int64_t n,
             const SgdStep<T>& s) {
  for (int64_t i = 0; i < n; ++i) {
    T g = kMaximize ? -grad[i] : grad[i];
    if constexpr (kWeightDecay) g = std::fma(p[i], s.weight_decay, g);
    if constexpr (kMomentum != SgdMomentum::kNone) {
      T b = kMomentum == SgdMomentum::kFirstStep
                ? g
                : std::fma(g, s.one_minus_dampening, buf[i] * s.momentum);
      buf[i] = b;
      g = kNesterov ? std::fma(b, s.momentum, g) : b;
    }
    p[i] = std::fma(g, s.lr_neg, p[i]);
  }
}

template <typename T>
using RunFn = void (*)(T*, const T*, T*, int64_t, const SgdStep<T>&);

template <typename T, bool kMaximize, bool kWeightDecay, SgdMomentum kMomentum>
RunFn<T> pick_nesterov(bool nesterov) {
  return nesterov ? &sgd_run<T, kMaximize, kWeightDecay, kMomentum, true>
                  : &sgd_run<T, kMaximize, kWeightDecay, kMomentum, false>;
}

template <typename T, bool kMaximize, bool kWeightDecay>
RunFn<T> pick_momentum(SgdMomentum m, bool nesterov) {
  switch (m) {
    case SgdMomentum::kNone: return &sgd_run<T, kMaximize, kWeightDecay, SgdMomentum::kNone, false>;
    case SgdMomentum::kFirstStep:
      return pick_nesterov<T, kMaximize, kWeightDecay, SgdMomentum::kFirstStep>(nesterov);
    default: return pick_nesterov<T, kMaximize, kWeightDecay, SgdMomentum::kUpdate>(nesterov);
  }
}

template <typename T>
RunFn<T> pick_run(bool maximize, bool weight_decay, SgdMomentum m, bool nesterov) {
  if (maximize) {
    return weight_decay ? pick_momentum<T, true, true>(m, nesterov)
                        : pick_momentum<T, true, false>(m, nesterov);
  }
  return weight_decay ? pick_momentum<T, false, true>(m, nesterov)
                      : pick_momentum<T, false, false>(m, nesterov);
}

template <typename T>
void sgd_step(const SgdStep<T>& s, int64_t count, const int64_t* offsets, T* const* params,
              const T* const* grads, T* const* bufs) {
  const RunFn<T> run = pick_run<T>(s.maximize, s.decay, s.mode, s.nesterov);
  // Parallel over all elements of all params; each chunk finds the params it overlaps.
  parallel_chunks(offsets[count], [&](int64_t begin, int64_t end) {
    int64_t i = std::upper_bound(offsets, offsets + count + 1, begin) - offsets - 1;
    for (int64_t pos = begin; pos < end; ++i) {
      const int64_t lo = pos - offsets[i];
      const int64_t hi = std::min(end, offsets[i + 1]) - offsets[i];
      if (hi > lo) run(params[i] + lo, grads[i] + lo, bufs[i] ? bufs[i] + lo : nullptr, hi - lo, s);
      pos = offsets[i] + hi;
    }
  });
}

}  // namespace
}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY

TORCHEXT_REGISTER_DISPATCH_FLOATING(torchext::cpu::SgdStepKernel, sgd_step);
