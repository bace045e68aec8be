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
  static float reduce_add(T v) {  // via memory: GCC 12's AVX-512 lane-extract intrinsics trip -Wuninitialized
    alignas(64) float lane[16];
    _mm512_store_ps(lane, v);
    float s[8];
    for (int i = 0; i < 8; ++i) s[i] = lane[i] + lane[i + 8];
    return ((s[0] + s[4]) + (s[1] + s[5])) + ((s[2] + s[6]) + (s[3] + s[7]));
  }
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
