// SIMD vector traits shared by the CPU kernels. Exactly one `Vec` is selected at compile time from
// what the build targets: AVX-512F, AVX2+FMA, NEON, or GNU vector extensions (the portable path, which
// the compiler lowers to whatever the baseline ISA offers, e.g. SSE2 on x86-64).
//
// Each traits struct gives: T (register type), W (floats per register), and load/loadu/store/storeu/
// set1/zero/fmadd(a, b, c) = a*b + c/mul/add/reduce_add. Kernels are written once against this.
#pragma once
#include <cstdint>
#include <cstring>

#if defined(__AVX512F__) || (defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#elif defined(__ARM_NEON)
#include <arm_neon.h>
#endif

namespace sk::simd {

#if defined(__AVX512F__)
struct Vec {
  using T = __m512;
  static constexpr int W = 16;
  static constexpr const char* name = "avx512";
  static T zero() { return _mm512_setzero_ps(); }
  static T set1(float x) { return _mm512_set1_ps(x); }
  static T load(const float* p) { return _mm512_load_ps(p); }
  static T loadu(const float* p) { return _mm512_loadu_ps(p); }
  static void store(float* p, T v) { _mm512_store_ps(p, v); }
  static void storeu(float* p, T v) { _mm512_storeu_ps(p, v); }
  static T fmadd(T a, T b, T c) { return _mm512_fmadd_ps(a, b, c); }
  static T mul(T a, T b) { return _mm512_mul_ps(a, b); }
  static T add(T a, T b) { return _mm512_add_ps(a, b); }
  // A tree in registers: s_i = v_i + v_{i+8}, t_i = s_i + s_{i+4}, then (t_0 + t_1) + (t_2 + t_3).
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push  // GCC 12 flags the self-initialised "undefined" register inside its casts
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC diagnostic ignored "-Wuninitialized"
#endif
  static float reduce_add(T v) {
    const __m256 s = _mm256_add_ps(_mm512_castps512_ps256(v), _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v), 1)));
    const __m128 t = _mm_add_ps(_mm256_castps256_ps128(s), _mm256_extractf128_ps(s, 1));
    const __m128 u = _mm_add_ps(t, _mm_shuffle_ps(t, t, _MM_SHUFFLE(2, 3, 0, 1)));  // t0 + t1, ., t2 + t3, .
    return _mm_cvtss_f32(_mm_add_ss(u, _mm_movehl_ps(u, u)));
  }
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif
};
#elif defined(__AVX2__) && defined(__FMA__)
struct Vec {
  using T = __m256;
  static constexpr int W = 8;
  static constexpr const char* name = "avx2+fma";
  static T zero() { return _mm256_setzero_ps(); }
  static T set1(float x) { return _mm256_set1_ps(x); }
  static T load(const float* p) { return _mm256_load_ps(p); }
  static T loadu(const float* p) { return _mm256_loadu_ps(p); }
  static void store(float* p, T v) { _mm256_store_ps(p, v); }
  static void storeu(float* p, T v) { _mm256_storeu_ps(p, v); }
  static T fmadd(T a, T b, T c) { return _mm256_fmadd_ps(a, b, c); }
  static T mul(T a, T b) { return _mm256_mul_ps(a, b); }
  static T add(T a, T b) { return _mm256_add_ps(a, b); }
  static float reduce_add(T v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
  }
};
#elif defined(__ARM_NEON)
struct Vec {
  using T = float32x4_t;
  static constexpr int W = 4;
  static constexpr const char* name = "neon";
  static T zero() { return vdupq_n_f32(0.0f); }
  static T set1(float x) { return vdupq_n_f32(x); }
  static T load(const float* p) { return vld1q_f32(p); }
  static T loadu(const float* p) { return vld1q_f32(p); }
  static void store(float* p, T v) { vst1q_f32(p, v); }
  static void storeu(float* p, T v) { vst1q_f32(p, v); }
  static T fmadd(T a, T b, T c) { return vfmaq_f32(c, a, b); }
  static T mul(T a, T b) { return vmulq_f32(a, b); }
  static T add(T a, T b) { return vaddq_f32(a, b); }
  static float reduce_add(T v) { return vaddvq_f32(v); }
};
#else
struct Vec {
  typedef float T __attribute__((vector_size(16)));
  static constexpr int W = 4;
  static constexpr const char* name = "portable";
  static T zero() { return T{0.0f, 0.0f, 0.0f, 0.0f}; }
  static T set1(float x) { return T{x, x, x, x}; }
  static T load(const float* p) { return loadu(p); }
  static T loadu(const float* p) {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;
  }
  static void store(float* p, T v) { storeu(p, v); }
  static void storeu(float* p, T v) { std::memcpy(p, &v, sizeof(T)); }
  static T fmadd(T a, T b, T c) { return a * b + c; }
  static T mul(T a, T b) { return a * b; }
  static T add(T a, T b) { return a + b; }
  static float reduce_add(T v) { return (v[0] + v[1]) + (v[2] + v[3]); }
};
#endif

}  // namespace sk::simd
