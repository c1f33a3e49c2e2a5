// The SIMD vocabulary the GEMM micro-kernel is written in: one register type V of W lanes with
// aligned load, unaligned load/store (also of only the first n < W lanes, touching no memory
// past them), broadcast, multiply and fused multiply-add. AVX-512 when
// the build targets it, else AVX2+FMA, else plain scalars (W = 1) as the portable fallback.
#pragma once
#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif

// A cache hint (no effect on results); a no-op where the compiler has no prefetch builtin.
#if defined(__GNUC__)
#define TORCHEXT_PREFETCH(address, for_write) __builtin_prefetch((address), (for_write))
#else
#define TORCHEXT_PREFETCH(address, for_write) ((void)0)
#endif

namespace torchext::cpu::gemm_detail {

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
  static V set1(float x) { return _mm512_set1_ps(x); }
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
  static V set1(double x) { return _mm512_set1_pd(x); }
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
  static V loadu_n(const float* p, int n) { return _mm256_maskload_ps(p, mask(n)); }
  static void storeu_n(float* p, V v, int n) { _mm256_maskstore_ps(p, mask(n), v); }
  static __m256i mask(int n) {  // lanes [0, n) set
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
  }
  static V set1(float x) { return _mm256_set1_ps(x); }
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
  static V loadu_n(const double* p, int n) { return _mm256_maskload_pd(p, mask(n)); }
  static void storeu_n(double* p, V v, int n) { _mm256_maskstore_pd(p, mask(n), v); }
  static __m256i mask(int n) {  // lanes [0, n) set
    return _mm256_cmpgt_epi64(_mm256_set1_epi64x(n), _mm256_setr_epi64x(0, 1, 2, 3));
  }
  static V set1(double x) { return _mm256_set1_pd(x); }
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
  static V set1(T x) { return x; }
  static V mul(V a, V b) { return a * b; }
  static V fmadd(V a, V b, V c) { return a * b + c; }
};

#endif

}  // namespace torchext::cpu::gemm_detail
