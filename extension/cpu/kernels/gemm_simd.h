// The SIMD vocabulary the GEMM micro-kernel is written in: one register type V of W lanes with
// aligned load, unaligned load/store (also of only the first n < W lanes, touching no memory
// past them), broadcast, add, subtract, multiply and fused multiply-add. AVX-512 when
// the build targets it, else AVX2+FMA, else plain scalars (W = 1) as the portable fallback.
#pragma once
#include "capability.h"
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

// A cache hint (no effect on results); a no-op where the compiler has no prefetch builtin.
#if defined(__GNUC__)
#define TORCHEXT_PREFETCH(address, for_write) __builtin_prefetch((address), (for_write))
#else
#define TORCHEXT_PREFETCH(address, for_write) ((void)0)
#endif

namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY::gemm_detail {

template <typename T>
struct Simd;

#if defined(__AVX512F__)

template <>
struct Simd<float> {
  using V = __m512;
  static constexpr int W = 16;
  static V zero() { return _mm512_setzero_ps(); }
  static V load(const float* p) { return _mm512_load_ps(p); }
  static V loadu(const float* p) { return _mm512_loadu_ps(p); }
  static void storeu(float* p, V v) { _mm512_storeu_ps(p, v); }
  static V loadu_n(const float* p, int n) { return _mm512_maskz_loadu_ps(mask(n), p); }
  static void storeu_n(float* p, V v, int n) { _mm512_mask_storeu_ps(p, mask(n), v); }
  static __mmask16 mask(int n) { return static_cast<__mmask16>((1u << n) - 1); }
  // p[0], p[2], ..., p[2W - 2] (reads p[0 .. 2W)).
  static V loadu_even(const float* p) {
    const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
    return _mm512_permutex2var_ps(_mm512_loadu_ps(p), even, _mm512_loadu_ps(p + 16));
  }
  static V set1(float x) { return _mm512_set1_ps(x); }
  static V add(V a, V b) { return _mm512_add_ps(a, b); }
  static V sub(V a, V b) { return _mm512_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm512_mul_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_ps(a, b, c); }
};

template <>
struct Simd<double> {
  using V = __m512d;
  static constexpr int W = 8;
  static V zero() { return _mm512_setzero_pd(); }
  static V load(const double* p) { return _mm512_load_pd(p); }
  static V loadu(const double* p) { return _mm512_loadu_pd(p); }
  static void storeu(double* p, V v) { _mm512_storeu_pd(p, v); }
  static V loadu_n(const double* p, int n) { return _mm512_maskz_loadu_pd(mask(n), p); }
  static void storeu_n(double* p, V v, int n) { _mm512_mask_storeu_pd(p, mask(n), v); }
  static __mmask8 mask(int n) { return static_cast<__mmask8>((1u << n) - 1); }
  static V loadu_even(const double* p) {
    const __m512i even = _mm512_setr_epi64(0, 2, 4, 6, 8, 10, 12, 14);
    return _mm512_permutex2var_pd(_mm512_loadu_pd(p), even, _mm512_loadu_pd(p + 8));
  }
  static V set1(double x) { return _mm512_set1_pd(x); }
  static V add(V a, V b) { return _mm512_add_pd(a, b); }
  static V sub(V a, V b) { return _mm512_sub_pd(a, b); }
  static V mul(V a, V b) { return _mm512_mul_pd(a, b); }
  static V fmadd(V a, V b, V c) { return _mm512_fmadd_pd(a, b, c); }
};

#elif defined(__AVX2__) && defined(__FMA__)

template <>
struct Simd<float> {
  using V = __m256;
  static constexpr int W = 8;
  static V zero() { return _mm256_setzero_ps(); }
  static V load(const float* p) { return _mm256_load_ps(p); }
  static V loadu(const float* p) { return _mm256_loadu_ps(p); }
  static void storeu(float* p, V v) { _mm256_storeu_ps(p, v); }
  // Partial vectors as 4-, 2- and 1-lane pieces (masked moves are slow on some x86 cores).
  static V loadu_n(const float* p, int n) {
    __m128 lo = _mm_setzero_ps(), hi = _mm_setzero_ps();
    __m128& part = n >= 4 ? hi : lo;
    if (n >= 4) {
      lo = _mm_loadu_ps(p);
      p += 4;
    }
    if (n & 2) {
      part = _mm_castsi128_ps(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(p)));
      p += 2;
    }
    if (n & 1) part = (n & 2) ? _mm_movelh_ps(part, _mm_load_ss(p)) : _mm_load_ss(p);
    return _mm256_set_m128(hi, lo);
  }
  static void storeu_n(float* p, V v, int n) {
    __m128 part = _mm256_castps256_ps128(v);
    if (n >= 4) {
      _mm_storeu_ps(p, part);
      part = _mm256_extractf128_ps(v, 1);
      p += 4;
    }
    if (n & 2) {
      _mm_storel_epi64(reinterpret_cast<__m128i*>(p), _mm_castps_si128(part));
      part = _mm_movehl_ps(part, part);
      p += 2;
    }
    if (n & 1) _mm_store_ss(p, part);
  }
  // p[0], p[2], ..., p[14] (reads p[0 .. 16)): per 128-bit lane the even values of both
  // halves, then the lanes' 64-bit pieces put in order.
  static V loadu_even(const float* p) {
    const __m256 pairs = _mm256_shuffle_ps(_mm256_loadu_ps(p), _mm256_loadu_ps(p + 8), _MM_SHUFFLE(2, 0, 2, 0));
    return _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(pairs), _MM_SHUFFLE(3, 1, 2, 0)));
  }
  static V set1(float x) { return _mm256_set1_ps(x); }
  static V add(V a, V b) { return _mm256_add_ps(a, b); }
  static V sub(V a, V b) { return _mm256_sub_ps(a, b); }
  static V mul(V a, V b) { return _mm256_mul_ps(a, b); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
};

template <>
struct Simd<double> {
  using V = __m256d;
  static constexpr int W = 4;
  static V zero() { return _mm256_setzero_pd(); }
  static V load(const double* p) { return _mm256_load_pd(p); }
  static V loadu(const double* p) { return _mm256_loadu_pd(p); }
  static void storeu(double* p, V v) { _mm256_storeu_pd(p, v); }
  static V loadu_n(const double* p, int n) {
    __m128d lo = _mm_setzero_pd(), hi = _mm_setzero_pd();
    if (n >= 2) {
      lo = _mm_loadu_pd(p);
      p += 2;
    }
    if (n & 1) (n >= 2 ? hi : lo) = _mm_load_sd(p);
    return _mm256_set_m128d(hi, lo);
  }
  static void storeu_n(double* p, V v, int n) {
    __m128d part = _mm256_castpd256_pd128(v);
    if (n >= 2) {
      _mm_storeu_pd(p, part);
      part = _mm256_extractf128_pd(v, 1);
      p += 2;
    }
    if (n & 1) _mm_store_sd(p, part);
  }
  static V loadu_even(const double* p) {
    const __m256d pairs = _mm256_unpacklo_pd(_mm256_loadu_pd(p), _mm256_loadu_pd(p + 4));
    return _mm256_permute4x64_pd(pairs, _MM_SHUFFLE(3, 1, 2, 0));
  }
  static V set1(double x) { return _mm256_set1_pd(x); }
  static V add(V a, V b) { return _mm256_add_pd(a, b); }
  static V sub(V a, V b) { return _mm256_sub_pd(a, b); }
  static V mul(V a, V b) { return _mm256_mul_pd(a, b); }
  static V fmadd(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
};

#else

template <typename T>
struct Simd {
  using V = T;
  static constexpr int W = 1;
  static V zero() { return T(0); }
  static V load(const T* p) { return *p; }
  static V loadu(const T* p) { return *p; }
  static void storeu(T* p, V v) { *p = v; }
  static V loadu_n(const T* p, int n) { return n > 0 ? *p : T(0); }
  static void storeu_n(T* p, V v, int n) { if (n > 0) *p = v; }
  static V loadu_even(const T* p) { return *p; }
  static V set1(T x) { return x; }
  static V add(V a, V b) { return a + b; }
  static V sub(V a, V b) { return a - b; }
  static V mul(V a, V b) { return a * b; }
  static V fmadd(V a, V b, V c) { return a * b + c; }
};

#endif

}  // namespace torchext::cpu::TORCHEXT_CPU_CAPABILITY::gemm_detail
