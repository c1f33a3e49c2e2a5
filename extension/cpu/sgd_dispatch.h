// The fused SGD step's kernel (kernels/sgd.cpp), dispatched to the capability in use (dispatch.h).
#pragma once
#include <cstdint>

#include "dispatch.h"

namespace torchext::cpu {

enum class SgdMomentum { kNone, kFirstStep, kUpdate };

// The step's scalars, already rounded to the dtype (as ATen rounds `alpha`), and its options.
template <typename T>
struct SgdStep {
  T lr_neg, weight_decay, momentum, one_minus_dampening;
  bool maximize, nesterov;
  bool decay;  // weight_decay != 0 before rounding (a tiny one still multiplies, as native)
  SgdMomentum mode;
};

// One step over `count` parameters of contiguous values, parameter i holding elements
// [offsets[i], offsets[i + 1]) of the flattened work list; bufs[i] is null without momentum.
template <typename T>
struct SgdStepKernel {
  using Fn = void(const SgdStep<T>& step, int64_t count, const int64_t* offsets, T* const* params,
                  const T* const* grads, T* const* bufs);
};

}  // namespace torchext::cpu

TORCHEXT_DECLARE_DISPATCH_FLOATING(torchext::cpu::SgdStepKernel);
