// Measures the CPU math layer (extension/cpu/kernels/simd_math.h) of one capability (built with
// -DTORCHEXT_CPU_CAPABILITY and its flags, as the kernels are) against long double libm: the
// largest error in units in the last place of the rounded reference (the smallest subnormal's
// for subnormal results), over a sweep of every binade (bit patterns at a fixed step, subnormal
// inputs included) and a fine grid of the central range, plus +-inf, NaN and overflow; log
// (double) and pow (float, against powf's special cases too) likewise. The loops
// run over arrays, as the kernels do, so the vectorized code is what is measured. Built and run
// by tests/test_simd_math.py; prints one line per function and dtype, exits non-zero on a failure.
#include "../../extension/cpu/kernels/simd_math.h"

#include <cmath>
#include <cstdio>
#include <limits>
#include <vector>

namespace {

using torchext::cpu::TORCHEXT_CPU_CAPABILITY::SimdMath;

// Largest error allowed, in ulps (native's vectorized float kernels are within about 1-3).
constexpr double kMaxUlps = 3.0;

template <typename T>
std::vector<T> inputs(long double lo, long double hi) {
  using B = std::conditional_t<sizeof(T) == 4, uint32_t, uint64_t>;
  std::vector<T> xs;
  const B step = sizeof(T) == 4 ? B(4099) : (B(1) << 44) + 12345;
  for (B b = 0;; b += step) {  // every binade, both signs (the top bit is the sign)
    T x;
    std::memcpy(&x, &b, sizeof x);
    if (std::isfinite(x) && x >= lo && x <= hi) xs.push_back(x);
    if (b > std::numeric_limits<B>::max() - step) break;
  }
  for (int i = 0; i <= 200000; ++i) xs.push_back(static_cast<T>(lo + (hi - lo) * i / 200000));
  return xs;
}

template <typename T>
long double ulp_of(long double ref) {
  const T r = static_cast<T>(std::fabs(ref));
  const T min_sub = std::numeric_limits<T>::denorm_min();
  if (r < std::numeric_limits<T>::min()) return min_sub;
  return static_cast<long double>(std::nextafter(r, std::numeric_limits<T>::infinity())) - r;
}

// One function of one dtype: fn applied to arrays of inputs, against ref; also inf and NaN.
template <typename T, typename F, typename R>
int check(const char* name, F fn, R ref, long double lo, long double hi, T at_inf, T at_minus_inf) {
  const auto xs = inputs<T>(lo, hi);
  std::vector<T> ys(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) ys[i] = fn(xs[i]);
  double worst = 0;
  T worst_x = 0;
  int failures = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const long double want = ref(static_cast<long double>(xs[i]));
    if (std::fabs(want) > std::numeric_limits<T>::max()) {  // overflows T: must be inf
      if (!(std::isinf(ys[i]) && (ys[i] > 0) == (want > 0))) ++failures;
      continue;
    }
    const double err = static_cast<double>(std::fabs(ys[i] - want) / ulp_of<T>(want));
    if (!(err <= worst)) worst = err, worst_x = xs[i];  // NaN counts as worst
  }
  const T inf = std::numeric_limits<T>::infinity(), nan = std::numeric_limits<T>::quiet_NaN();
  const T specials[] = {inf, -inf, nan};
  T out[3];
  for (int i = 0; i < 3; ++i) out[i] = fn(specials[i]);
  if (out[0] != at_inf || out[1] != at_minus_inf || !std::isnan(out[2])) ++failures;
  if (!(worst <= kMaxUlps)) ++failures;
  std::printf("%s %s: %zu inputs, max %.2f ulp at %.9Lg, f(inf)=%g f(-inf)=%g f(nan)=%g%s\n", name,
              sizeof(T) == 4 ? "float32" : "float64", xs.size(), worst,
              static_cast<long double>(worst_x), static_cast<double>(out[0]),
              static_cast<double>(out[1]), static_cast<double>(out[2]), failures ? "  FAILED" : "");
  return failures;
}

template <typename T>
int check_all() {
  const long double big = sizeof(T) == 4 ? 200.0L : 1000.0L;  // past overflow and underflow
  int f = 0;
  f += check<T>("exp", [](T x) { return SimdMath::exp(x); }, [](long double x) { return expl(x); },
                -big, big, std::numeric_limits<T>::infinity(), T(0));
  f += check<T>("sigmoid", [](T x) { return SimdMath::sigmoid(x); },
                [](long double x) { return 1.0L / (1.0L + expl(-x)); }, -big, big, T(1), T(0));
  f += check<T>("tanh", [](T x) { return SimdMath::tanh(x); }, [](long double x) { return tanhl(x); },
                -big, big, T(1), T(-1));
  f += check<T>("erf", [](T x) { return SimdMath::erf(x); }, [](long double x) { return erfl(x); },
                -big, big, T(1), T(-1));
  return f;
}

// log (double; the specials: 0, -0, inf, negative, NaN) over every binade, subnormals included.
int check_log() {
  const double inf = std::numeric_limits<double>::infinity();
  auto xs = inputs<double>(0.0L, std::numeric_limits<double>::max());
  std::vector<double> ys(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) ys[i] = SimdMath::log(xs[i]);
  double worst = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    if (xs[i] == 0) continue;
    const long double want = logl(static_cast<long double>(xs[i]));
    const double err = static_cast<double>(std::fabs(ys[i] - want) / ulp_of<double>(want));
    if (!(err <= worst)) worst = err;
  }
  const double specials[] = {0.0, -0.0, inf, -1.0, -inf, std::nan("")};
  double out[6];
  for (int i = 0; i < 6; ++i) out[i] = SimdMath::log(specials[i]);
  const int failures = !(worst <= kMaxUlps) + !(out[0] == -inf && out[1] == -inf && out[2] == inf) +
                       !(std::isnan(out[3]) && std::isnan(out[4]) && std::isnan(out[5]));
  std::printf("log float64: %zu inputs, max %.2f ulp%s\n", xs.size(), worst, failures ? "  FAILED" : "");
  return failures;
}

// pow (float): random pairs over wide ranges against long double, and every pair of special
// values (zeros, infinities, NaN, +-1, odd, even and fractional exponents, subnormal and huge
// bases) against the C library's powf, sign of zero included.
int check_pow() {
  std::vector<float> xs, es;
  uint32_t state = 12345;
  auto uniform = [&state](float lo, float hi) {
    state = state * 1664525u + 1013904223u;
    return lo + (hi - lo) * static_cast<float>(state >> 8) / 16777216.f;
  };
  for (int i = 0; i < 1000000; ++i) {
    xs.push_back(uniform(-5, 5) * (i % 3 ? 1.f : 30.f));
    es.push_back(i % 5 ? uniform(-5, 5) * (i % 7 ? 1.f : 20.f) : std::round(uniform(-20, 20)));
  }
  const size_t random = xs.size();
  const float inf = std::numeric_limits<float>::infinity();
  const float specials[] = {0.f, -0.f, inf, -inf, std::nanf(""), 1.f, -1.f, 2.f, -2.f, 0.5f,
                            -0.5f, 3.f, -3.f, 1e-45f, 3e38f, 16777216.f, 1e30f, -1e30f};
  for (float x : specials)
    for (float e : specials) xs.push_back(x), es.push_back(e);
  std::vector<float> ys(xs.size());
  for (size_t i = 0; i < xs.size(); ++i) ys[i] = SimdMath::pow(xs[i], es[i]);
  double worst = 0;
  int failures = 0;
  for (size_t i = 0; i < xs.size(); ++i) {
    const float want = std::pow(xs[i], es[i]);
    if (i >= random || !std::isfinite(want) || want == 0) {
      const bool same = std::isnan(want) ? std::isnan(ys[i])
                                         : ys[i] == want && std::signbit(ys[i]) == std::signbit(want);
      if (!same) {
        if (++failures < 10) std::printf("pow(%g, %g) = %g, powf gives %g\n", xs[i], es[i], ys[i], want);
      }
      continue;
    }
    const long double ref = powl(static_cast<long double>(xs[i]), static_cast<long double>(es[i]));
    const double err = static_cast<double>(std::fabs(ys[i] - ref) / ulp_of<float>(ref));
    if (!(err <= worst)) worst = err;
  }
  failures += !(worst <= kMaxUlps);
  std::printf("pow float32: %zu inputs, max %.2f ulp%s\n", xs.size(), worst, failures ? "  FAILED" : "");
  return failures;
}

}  // namespace

int main() {
  const int failures = check_all<float>() + check_all<double>() + check_log() + check_pow();
  std::printf("%d failed\n", failures);
  return failures ? 1 : 0;
}
