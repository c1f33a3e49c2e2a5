// exp, tanh, erf and sigmoid for float and double, written branch-free (polynomials, range
// reduction, selects and bit operations) so that the compiler vectorizes the loops that call
// them: libm's calls do not vectorize. The math policy of the pointwise functors
// (../../pointwise_functors.h) on the CPU. Polynomial coefficients are Chebyshev fits (mpmath
// chebyfit, 40 digits) on the ranges named at each; tests/cpp/simd_math_accuracy.cpp measures the
// error in ulps against long double over the whole range, infinities, NaN and subnormal results.
#pragma once
#include <cstdint>
#include <cstring>
#include <type_traits>

#include "capability.h"

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY {

namespace simd_math_detail {

template <typename T, int N>
[[gnu::always_inline]] inline T horner(T x, const T (&c)[N]) {
  T r = c[0];
  for (int i = 1; i < N; ++i) r = r * x + c[i];
  return r;
}

template <typename T>
struct Traits;

template <>
struct Traits<float> {
  using Bits = uint32_t;
  static constexpr int kMantissa = 23;
  static constexpr Bits kBias = 127;
  // exp's range: below lo the result rounds to 0, above hi it overflows.
  static constexpr float kExpLo = -105.f, kExpHi = 89.f;
  static constexpr float kLn2Hi = 6.9314575195e-01f, kLn2Lo = 1.4286067653e-06f;  // fdlibm's split
  // e^r on [-ln2/2, ln2/2], degree 6 (relative error 2e-9).
  static constexpr float kExp[] = {1.39411084339726746085e-3f, 8.37512639815333568204e-3f,
                                   4.16663528967751567865e-2f, 1.66664155146532754274e-1f,
                                   5.00000004711775767439e-1f, 1.00000003771621384254f, 1.0f};
  // tanh(x) = x + x^3 P(x^2) for |x| < 0.625.
  static constexpr float kTanhSmall = 0.625f;
  static constexpr float kTanh[] = {-6.09671416590819757453e-3f, 2.09971789990747505721e-2f,
                                    -5.38509095785135808278e-2f, 1.33327697369763278581e-1f,
                                    -3.33333289441342545651e-1f};
  // erf(x) = x P(x^2) for |x| < 1.
  static constexpr float kErf[] = {7.87587506268548834106e-5f, -8.01686428716586952931e-4f,
                                   5.18908742343397398608e-3f, -2.68542120106264124435e-2f,
                                   1.12835947151602177319e-1f, -3.76126266667203310234e-1f,
                                   1.12837916584835094603f};
  // erfc(a) = exp(-a^2) Q(2 / (2 + a)) for 1 <= a <= 4; erf(a) rounds to 1 beyond.
  static constexpr float kErfMax = 4.f;
  static constexpr float kErfc[] = {1.20852433163171017377e-1f, -4.76525274384609330943e-1f,
                                    5.71265175811981509658e-1f, -1.10208294055693828256e-1f,
                                    3.51030323178788544375e-1f, 2.5875136638551911839e-1f,
                                    2.85061620115570627011e-1f, -1.64236387081617661724e-4f};
};

template <>
struct Traits<double> {
  using Bits = uint64_t;
  static constexpr int kMantissa = 52;
  static constexpr Bits kBias = 1023;
  static constexpr double kExpLo = -746., kExpHi = 710.;
  static constexpr double kLn2Hi = 6.93147180369123816490e-01, kLn2Lo = 1.90821492927058770002e-10;
  // e^r on [-ln2/2, ln2/2], degree 11 (relative error 3e-18).
  static constexpr double kExp[] = {
      2.5110037605963777712e-8, 2.76326396390410297493e-7, 2.7557240918578969823e-6,
      2.4801485482328492419e-5, 1.98412698900471137067e-4, 1.38888889523147746524e-3,
      8.33333333331960061091e-3, 4.16666666664880954954e-2, 1.66666666666666808057e-1,
      5.00000000000001838553e-1, 9.99999999999999999764e-1, 1.0};
  static constexpr double kTanhSmall = 0.625;
  static constexpr double kTanh[] = {
      -1.72448744948443301718e-5, 7.95995573526480800022e-5, -2.30776162695198578995e-4,
      5.87437286009438189727e-4, -1.45530929753464202496e-3, 3.59205897747345531512e-3,
      -8.86322983092570874568e-3, 2.18694882605591146453e-2, -5.39682539613955708212e-2,
      1.33333333333266577364e-1, -3.33333333333333225649e-1};
  static constexpr double kErf[] = {
      -7.79589882700214224164e-10, 1.37200645467776856042e-8, -1.62084838018717059017e-7,
      1.64474247033173624102e-6, -1.49247369074196603376e-5, 1.20552949048397079165e-4,
      -8.54832597538969208056e-4, 5.22397760711642273211e-3, -2.68661706432377703602e-2,
      1.12837916709450062655e-1, -3.76126389031835404385e-1, 1.12837916709551256654};
  // 1 <= a <= 6; erf(a) rounds to 1 beyond.
  static constexpr double kErfMax = 6.;
  static constexpr double kErfc[] = {
      7.30113499585691704873e-3, 1.31745025017440249823e-2, -2.99108740311273908386e-1,
      1.17120950239213800399, -2.36034631086710565868, 2.86891148761687675225,
      -2.21611129583081130516, 1.20079889217395750466, -5.8838049845297752878e-1,
      1.66402356422969137698e-1, 4.21658108417165331394e-2, 1.83875166187312207903e-1,
      2.45834143225128329589e-1, 2.82185255460822064362e-1, 2.82089759929175397723e-1,
      1.29658413029865562894e-7};
};

// log(1 + f) = f - f^2/2 + s (f^2/2 + R(s^2)), s = f / (2 + f), on sqrt(2)/2 <= 1 + f < sqrt(2)
// (fdlibm's e_log.c coefficients, error below 1 ulp).
constexpr double kLog[] = {1.479819860511658591e-01, 1.531383769920937332e-01,
                           1.818357216161805012e-01, 2.222219843214978396e-01,
                           2.857142874366239149e-01, 3.999999999940941908e-01,
                           6.666666666666735130e-01};

template <typename T>
[[gnu::always_inline]] inline typename Traits<T>::Bits bits_of(T x) {
  typename Traits<T>::Bits b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

template <typename T>
[[gnu::always_inline]] inline T from_bits(typename Traits<T>::Bits b) {
  T x;
  std::memcpy(&x, &b, sizeof x);
  return x;
}

// 2^n for a normal exponent n, built in the exponent field (unsigned: no overflow UB on the
// garbage n a NaN input produces; its result is discarded).
template <typename T>
[[gnu::always_inline]] inline T pow2(typename Traits<T>::Bits n) {
  using C = Traits<T>;
  return from_bits<T>((n + C::kBias) << C::kMantissa);
}

}  // namespace simd_math_detail

struct SimdMath {
  // x = n ln2 + r, |r| <= ln2/2; e^x = e^r 2^n with 2^n applied as two factors 2^(n/2), so that
  // subnormal results are rounded once and overflow reaches inf. NaN in, NaN out.
  template <typename T>
  [[gnu::always_inline]] static inline T exp(T x) {
    using namespace simd_math_detail;
    using C = Traits<T>;
    using B = typename C::Bits;
    // Selects between values, never between the constants' addresses: a conditional load would
    // keep the loop from vectorizing.
    const T lo = C::kExpLo, hi = C::kExpHi;
    T xc = x < lo ? lo : x;
    xc = xc > hi ? hi : xc;
    // Round x/ln2 to an integer by adding 1.5 * 2^mantissa: n sits in the low bits.
    const T shift = T(1.5) * from_bits<T>((B(C::kMantissa) + C::kBias) << C::kMantissa);
    const T k = xc * T(1.4426950408889634074) + shift;
    const T kf = k - shift;
    const B n = bits_of(k) - bits_of(shift);
    const T r = (xc - kf * C::kLn2Hi) - kf * C::kLn2Lo;
    const B n1 = B(static_cast<std::make_signed_t<B>>(n) >> 1);
    const T e = horner(r, C::kExp) * pow2<T>(n1) * pow2<T>(n - n1);
    return x != x ? x : e;
  }

  // 1 / (1 + e^-x) for x >= 0, e^x / (1 + e^x) below: no cancellation, subnormal tails kept.
  template <typename T>
  [[gnu::always_inline]] static inline T sigmoid(T x) {
    const T e = exp(x < T(0) ? x : -x);
    const T s = T(1) / (T(1) + e);
    return x >= T(0) ? s : e * s;
  }

  // Odd polynomial near 0; 1 - 2 / (e^2|x| + 1) with x's sign elsewhere (inf gives 1).
  template <typename T>
  [[gnu::always_inline]] static inline T tanh(T x) {
    using C = simd_math_detail::Traits<T>;
    const T a = x < T(0) ? -x : x;
    const T x2 = x * x;
    const T small = x + x * x2 * simd_math_detail::horner(x2, C::kTanh);
    const T large = T(1) - T(2) / (exp(a + a) + T(1));
    const T small_limit = C::kTanhSmall;
    return a < small_limit ? small : (x < T(0) ? -large : large);
  }

  // x P(x^2) below |x| = 1; 1 - e^(-x^2) Q(2 / (2 + |x|)) with x's sign up to kErfMax, where it
  // reaches 1 in T.
  template <typename T>
  [[gnu::always_inline]] static inline T erf(T x) {
    using C = simd_math_detail::Traits<T>;
    T a = x < T(0) ? -x : x;
    const T small = x * simd_math_detail::horner(x * x, C::kErf);
    const T a_max = C::kErfMax;
    const T ac = a > a_max ? a_max : a;
    const T t = T(2) / (T(2) + ac);
    const T large = T(1) - exp(-(ac * ac)) * simd_math_detail::horner(t, C::kErfc);
    return a < T(1) ? small : (x < T(0) ? -large : large);
  }

  // Natural log in double: x = 2^k m with sqrt(2)/2 <= m < sqrt(2) read from the bits (subnormals
  // scaled by 2^54 first), k converted through the bits too (AVX2 has no vector int64 -> double).
  // log(0) = -inf, log(inf) = inf, NaN for NaN and negatives.
  [[gnu::always_inline]] static inline double log(double x) {
    using namespace simd_math_detail;
    constexpr double kInf = __builtin_inf();
    const bool subnormal = x < 2.2250738585072014e-308;
    const uint64_t b = bits_of(subnormal ? x * 0x1p54 : x) + (0x3ff0000000000000ull - 0x3fe6a09e00000000ull);
    const double m = from_bits<double>((b & 0x000fffffffffffffull) + 0x3fe6a09e00000000ull);
    const double k = from_bits<double>(0x4330000000000000ull | (b >> 52)) -
                     (0x1p52 + 1023. + (subnormal ? 54. : 0.));
    const double f = m - 1.0;
    const double half_f2 = 0.5 * f * f;
    const double s = f / (2.0 + f);
    const double z = s * s;
    const double r = z * horner(z, kLog);
    const double y = s * (half_f2 + r) + k * Traits<double>::kLn2Lo - half_f2 + f + k * Traits<double>::kLn2Hi;
    const double special = x == 0. ? -kInf : (x < 0. ? __builtin_nan("") : x);  // inf, NaN: x
    return (x > 0.) & (x < kInf) ? y : special;
  }

  // powf(x, y) with C's special cases, computed as exp(y log|x|) in double: wherever the result is
  // a finite nonzero float, |y log|x|| < 104, so double's rounding leaves the float result
  // correctly rounded but for near-ties. 1 for y = 0 and for x = 1 (even with a NaN), and for
  // x = -1 with y = +-inf; a negative x takes the sign for odd integer y, and NaN for non-integer
  // y unless it is -0 or -inf.
  [[gnu::always_inline]] static inline float pow(float x, float y) {
    using namespace simd_math_detail;
    constexpr double kInf = __builtin_inf();
    const double xd = x, yd = y;
    const double ax = xd < 0. ? -xd : xd;
    const double r = exp(yd * log(ax));
    const double half = yd * 0.5;
    const bool y_integer = __builtin_trunc(yd) == yd;  // +-inf count as even integers
    const bool y_odd = y_integer & (__builtin_trunc(half) != half);
    const bool negative = (bits_of(x) >> 31) != 0;  // -0 included
    double out = negative & y_odd ? -r : r;
    out = (xd < 0.) & (xd > -kInf) & !y_integer ? __builtin_nan("") : out;
    const bool one = (yd == 0.) | (xd == 1.) | ((ax == 1.) & ((yd == kInf) | (yd == -kInf)));
    return one ? 1.f : static_cast<float>(out);
  }
};

}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY
