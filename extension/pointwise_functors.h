// The element-wise activations, one struct per op, shared by the CPU kernels
// (cpu/kernels/pointwise.cpp, through cpu/pointwise_ops.h) and the CUDA kernels (cuda/pointwise.cu).
// A is the compute type (float or double; CUDA computes half and bfloat16 in float) and M the math
// policy with exp, tanh, erf and sigmoid: the vectorizable polynomials of cpu/kernels/simd_math.h
// on the CPU, CUDA's device functions on the GPU. Each struct has
//   forward(x)                          the op's value;
//   backward(grad, saved)               grad times the derivative, from the input (the output for
//                                       sigmoid), with native's boundary conventions;
//   double_backward(gg, grad, saved)    gg times the derivative of backward w.r.t. saved, for the
//                                       ops whose second derivative is not zero.
// The formulas follow ATen's kernels (same operation order where it matters for rounding).
#pragma once
#include <c10/macros/Macros.h>

#define TORCHEXT_POINTWISE C10_HOST_DEVICE C10_ALWAYS_INLINE

namespace torchext::pointwise {

template <typename A>
struct Sigmoid {
  using value_type = A;
  template <class M> TORCHEXT_POINTWISE A forward(A x) const { return M::sigmoid(x); }
  template <class M> TORCHEXT_POINTWISE A backward(A g, A y) const { return g * (A(1) - y) * y; }
  template <class M> TORCHEXT_POINTWISE A double_backward(A gg, A g, A y) const {
    return gg * g * (A(1) - A(2) * y);
  }
};

// x * sigmoid(x).
template <typename A>
struct Silu {
  using value_type = A;
  template <class M> TORCHEXT_POINTWISE A forward(A x) const { return x * M::sigmoid(x); }
  template <class M> TORCHEXT_POINTWISE A backward(A g, A x) const {
    const A s = M::sigmoid(x);
    return g * s * (A(1) + x * (A(1) - s));
  }
  template <class M> TORCHEXT_POINTWISE A double_backward(A gg, A g, A x) const {
    const A s = M::sigmoid(x);
    return gg * g * s * (A(1) - s) * (A(2) + x * (A(1) - A(2) * s));
  }
};

// clamp(x, min_val, max_val), NaN kept; the gradient passes strictly inside the bounds only (zero
// at them and for NaN), as native's hardtanh_backward. relu6 is hardtanh(0, 6).
template <typename A>
struct Hardtanh {
  using value_type = A;
  A min_val, max_val;
  // On copies of the bounds: a select between member addresses would be a conditional load,
  // which keeps the CPU loop from vectorizing.
  template <class M> TORCHEXT_POINTWISE A forward(A x) const {
    const A lo = min_val, hi = max_val;
    return x < lo ? lo : (x > hi ? hi : x);
  }
  template <class M> TORCHEXT_POINTWISE A backward(A g, A x) const {
    const A lo = min_val, hi = max_val;
    return (x > lo) & (x < hi) ? g : A(0);
  }
};

// x * relu6(x + 3) / 6. Gradient as native's: 0 up to -3, x/3 + 1/2 strictly inside, 1 from 3 on;
// NaN for a NaN input.
template <typename A>
struct Hardswish {
  using value_type = A;
  template <class M> TORCHEXT_POINTWISE A forward(A x) const {
    A t = x + A(3);
    t = t < A(0) ? A(0) : t;
    t = t > A(6) ? A(6) : t;
    return x * t / A(6);
  }
  template <class M> TORCHEXT_POINTWISE A backward(A g, A x) const {
    return x <= A(-3) ? A(0) : (x >= A(3) ? g : g * (x / A(3) + A(0.5)));
  }
  template <class M> TORCHEXT_POINTWISE A double_backward(A gg, A g, A x) const {
    return (x > A(-3)) & (x < A(3)) ? g * gg / A(3) : A(0);
  }
};

// relu6(x + 3) / 6; gradient 1/6 strictly inside (-3, 3), else 0 (NaN included). The 1/6 is
// float's for double too, as native's.
template <typename A>
struct Hardsigmoid {
  using value_type = A;
  template <class M> TORCHEXT_POINTWISE A forward(A x) const {
    A t = x + A(3);
    t = t < A(0) ? A(0) : t;
    t = t > A(6) ? A(6) : t;
    return t / A(6);
  }
  template <class M> TORCHEXT_POINTWISE A backward(A g, A x) const {
    return (x > A(-3)) & (x < A(3)) ? g * A(1.0f / 6.0f) : A(0);
  }
};

// x * Phi(x), Phi the standard normal CDF through erf (approximate='none').
template <typename A>
struct Gelu {
  using value_type = A;
  static constexpr double kAlpha = 0.70710678118654752440;   // 1/sqrt(2)
  static constexpr double kBeta = 0.39894228040143267794;    // 1/sqrt(2 pi)
  template <class M> TORCHEXT_POINTWISE A forward(A x) const {
    return x * A(0.5) * (A(1) + M::erf(x * A(kAlpha)));
  }
  template <class M> TORCHEXT_POINTWISE A backward(A g, A x) const {
    const A cdf = A(0.5) * (A(1) + M::erf(x * A(kAlpha)));
    const A pdf = A(kBeta) * M::exp(x * x * A(-0.5));
    return g * (cdf + x * pdf);
  }
  template <class M> TORCHEXT_POINTWISE A double_backward(A gg, A g, A x) const {
    const A pdf = A(kBeta) * M::exp(x * x * A(-0.5));
    return gg * g * pdf * (A(2) - x * x);
  }
};

// 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))) (approximate='tanh').
template <typename A>
struct GeluTanh {
  using value_type = A;
  static constexpr double kBeta = 0.79788456080286535588;    // sqrt(2/pi)
  static constexpr double kKappa = 0.044715;
  template <class M> TORCHEXT_POINTWISE A forward(A x) const {
    const A inner = A(kBeta) * (x + A(kKappa) * x * x * x);
    return A(0.5) * x * (A(1) + M::tanh(inner));
  }
  // 1 + tanh(u) and 1 - tanh(u)^2 from one exp, without the cancellation of 1 + t and 1 - t * t
  // in the negative tail, where x times them still counts (native's float32 gradient loses those
  // digits; ours keeps them).
  template <class M> TORCHEXT_POINTWISE static void tanh_terms(A u, A& one_plus_t, A& sech2) {
    const A e = M::exp(A(-2) * (u < A(0) ? -u : u));
    const A r = A(1) / (A(1) + e);
    one_plus_t = A(2) * (u < A(0) ? e * r : r);
    sech2 = A(4) * e * r * r;
  }
  template <class M> TORCHEXT_POINTWISE A backward(A g, A x) const {
    const A x_sq = x * x;
    A one_plus_t, sech2;
    tanh_terms<M>(A(kBeta) * (x + A(kKappa) * x_sq * x), one_plus_t, sech2);
    const A right_derivative = A(0.5) * x * sech2 * A(kBeta) * (A(1) + A(3 * kKappa) * x_sq);
    return g * (A(0.5) * one_plus_t + right_derivative);
  }
  // d/dx of 0.5 (1 + T) + 0.5 x (1 - T^2) u', T = tanh(u), u = beta (x + kappa x^3):
  // (1 - T^2) (u' - x T u'^2 + 0.5 x u'').
  template <class M> TORCHEXT_POINTWISE A double_backward(A gg, A g, A x) const {
    const A x_sq = x * x;
    A one_plus_t, sech2;
    tanh_terms<M>(A(kBeta) * (x + A(kKappa) * x_sq * x), one_plus_t, sech2);
    const A t = one_plus_t - A(1);
    const A du = A(kBeta) * (A(1) + A(3 * kKappa) * x_sq);
    const A d2u = A(6 * kBeta * kKappa) * x;
    return gg * g * sech2 * (du - x * t * du * du + A(0.5) * x * d2u);
  }
};

}  // namespace torchext::pointwise
