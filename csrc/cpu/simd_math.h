// Vectorised elementary functions over simd::Vec registers, shared by the CPU kernel families
// (activation, loss, attention, ...).
//
//   exp(x):  Cody-Waite range reduction x = n ln2 + r, |r| <= ln2/2, then Cephes' degree-6 polynomial
//            for e^r (about 1 ulp), times 2^n built from exponent bits (in two halves, so that results in
//            the subnormal range and overflow to +inf come out right). NaN propagates.
//   erf(x):  Abramowitz & Stegun 7.1.26, erf|x| = 1 - t(a1 + t(a2 + ... a5)) e^{-x^2}, t = 1/(1 + p|x|),
//            absolute error <= 1.5e-7 (about 1 float ulp near 1), sign restored from x.
//   tanh(x): 1 - 2 / (e^{2x} + 1) for |x| >= 0.625 and an odd Taylor polynomial below (keeps relative
//            accuracy near 0 where the exp form cancels).
//   sigmoid(x) = 1 / (1 + e^-x) (e^-x -> inf gives 0);  silu(x) = x sigmoid(x);
//   silu'(x) = sigmoid(x) (1 + x (1 - sigmoid(x))).
//
// Each ISA supplies the few primitives the functions need beyond Vec (sub, div, min, max, round to
// nearest, 2^n for integral n, abs, copysign, a select on x < y); the functions are written once.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>

#include "simd.h"

namespace sk::simd {

using V = Vec::T;

#if defined(__AVX512F__)
// The masked forms (all lanes on) with an explicit source operand: GCC 12's unmasked ones pass an
// "undefined" register that -Wuninitialized flags.
constexpr __mmask16 kAll = 0xFFFF;
inline V sub(V a, V b) { return _mm512_sub_ps(a, b); }
inline V div(V a, V b) { return _mm512_div_ps(a, b); }
// x is the second operand so that a NaN in x comes through (the instructions return the second operand
// when one is NaN).
inline V min_nan(V bound, V x) { return _mm512_mask_min_ps(x, kAll, bound, x); }
inline V max_nan(V bound, V x) { return _mm512_mask_max_ps(x, kAll, bound, x); }
inline V round_nearest(V x) {
  return _mm512_mask_roundscale_ps(x, kAll, x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
}
inline V pow2_mul(V p, V n) { return _mm512_mask_scalef_ps(p, kAll, p, n); }  // p * 2^n
inline __m512i bits(V x) { return _mm512_castps_si512(x); }
inline V abs(V x) { return _mm512_castsi512_ps(_mm512_mask_and_epi32(bits(x), kAll, bits(x), _mm512_set1_epi32(0x7fffffff))); }
inline V copysign(V mag, V sign) {
  // ternary logic 0xCA: per bit, s ? sign : mag, s being the sign-bit mask.
  return _mm512_castsi512_ps(_mm512_ternarylogic_epi32(_mm512_set1_epi32(INT32_MIN), bits(sign), bits(mag), 0xCA));
}
inline V select_less(V a, V b, V if_less, V otherwise) {  // a < b ? if_less : otherwise
  return _mm512_mask_blend_ps(_mm512_cmp_ps_mask(a, b, _CMP_LT_OQ), otherwise, if_less);
}
#elif defined(__AVX2__) && defined(__FMA__)
inline V sub(V a, V b) { return _mm256_sub_ps(a, b); }
inline V div(V a, V b) { return _mm256_div_ps(a, b); }
inline V min_nan(V bound, V x) { return _mm256_min_ps(bound, x); }
inline V max_nan(V bound, V x) { return _mm256_max_ps(bound, x); }
inline V round_nearest(V x) { return _mm256_round_ps(x, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC); }
inline V pow2_exact(__m256i n) {  // 2^n for -126 <= n <= 127
  return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(n, _mm256_set1_epi32(127)), 23));
}
inline V pow2_mul(V p, V n) {  // p * 2^n for integral |n| <= 252, in two halves
  __m256i ni = _mm256_cvtps_epi32(n);
  __m256i half = _mm256_srai_epi32(ni, 1);
  return _mm256_mul_ps(_mm256_mul_ps(p, pow2_exact(half)), pow2_exact(_mm256_sub_epi32(ni, half)));
}
inline V abs(V x) { return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), x); }
inline V copysign(V mag, V sign) {
  const V s = _mm256_set1_ps(-0.0f);
  return _mm256_or_ps(_mm256_andnot_ps(s, mag), _mm256_and_ps(s, sign));
}
inline V select_less(V a, V b, V if_less, V otherwise) {
  return _mm256_blendv_ps(otherwise, if_less, _mm256_cmp_ps(a, b, _CMP_LT_OQ));
}
#elif defined(__ARM_NEON)
inline V sub(V a, V b) { return vsubq_f32(a, b); }
inline V div(V a, V b) { return vdivq_f32(a, b); }
// vminq/vmaxq return NaN when either operand is NaN.
inline V min_nan(V bound, V x) { return vminq_f32(bound, x); }
inline V max_nan(V bound, V x) { return vmaxq_f32(bound, x); }
inline V round_nearest(V x) { return vrndnq_f32(x); }
inline V pow2_exact(int32x4_t n) { return vreinterpretq_f32_s32(vshlq_n_s32(vaddq_s32(n, vdupq_n_s32(127)), 23)); }
inline V pow2_mul(V p, V n) {
  int32x4_t ni = vcvtq_s32_f32(n);
  int32x4_t half = vshrq_n_s32(ni, 1);
  return vmulq_f32(vmulq_f32(p, pow2_exact(half)), pow2_exact(vsubq_s32(ni, half)));
}
inline V abs(V x) { return vabsq_f32(x); }
inline V copysign(V mag, V sign) { return vbslq_f32(vdupq_n_u32(0x80000000u), sign, mag); }
inline V select_less(V a, V b, V if_less, V otherwise) { return vbslq_f32(vcltq_f32(a, b), if_less, otherwise); }
#else
// Portable: GNU vector extensions, element-wise where no vector operator exists.
inline V sub(V a, V b) { return a - b; }
inline V div(V a, V b) { return a / b; }
inline V min_nan(V bound, V x) {
  V r;
  for (int i = 0; i < Vec::W; ++i) r[i] = bound[i] < x[i] ? bound[i] : x[i];
  return r;
}
inline V max_nan(V bound, V x) {
  V r;
  for (int i = 0; i < Vec::W; ++i) r[i] = bound[i] > x[i] ? bound[i] : x[i];
  return r;
}
inline V round_nearest(V x) {
  V r;
  for (int i = 0; i < Vec::W; ++i) r[i] = std::nearbyint(x[i]);
  return r;
}
inline V pow2_mul(V p, V n) {
  V r;
  for (int i = 0; i < Vec::W; ++i) r[i] = std::ldexp(p[i], static_cast<int>(n[i]));
  return r;
}
inline V abs(V x) {
  V r;
  for (int i = 0; i < Vec::W; ++i) r[i] = std::fabs(x[i]);
  return r;
}
inline V copysign(V mag, V sign) {
  V r;
  for (int i = 0; i < Vec::W; ++i) r[i] = std::copysign(mag[i], sign[i]);
  return r;
}
inline V select_less(V a, V b, V if_less, V otherwise) {
  V r;
  for (int i = 0; i < Vec::W; ++i) r[i] = a[i] < b[i] ? if_less[i] : otherwise[i];
  return r;
}
#endif

inline V exp(V x) {
  // Beyond these bounds the result is 0 or +inf anyway (e^-110 underflows to exactly 0, also after the
  // polynomial, so masked -inf logits give exact zeros); clamping keeps n small enough for pow2_mul.
  x = min_nan(Vec::set1(89.0f), max_nan(Vec::set1(-110.0f), x));
  V n = round_nearest(Vec::mul(x, Vec::set1(1.44269504088896341f)));
  V r = Vec::fmadd(n, Vec::set1(-0.693359375f), x);  // ln2 split in two (Cody-Waite)
  r = Vec::fmadd(n, Vec::set1(2.12194440e-4f), r);
  V p = Vec::set1(1.9875691500e-4f);
  p = Vec::fmadd(p, r, Vec::set1(1.3981999507e-3f));
  p = Vec::fmadd(p, r, Vec::set1(8.3334519073e-3f));
  p = Vec::fmadd(p, r, Vec::set1(4.1665795894e-2f));
  p = Vec::fmadd(p, r, Vec::set1(1.6666665459e-1f));
  p = Vec::fmadd(p, r, Vec::set1(5.0000001201e-1f));
  p = Vec::fmadd(Vec::mul(p, r), r, Vec::add(r, Vec::set1(1.0f)));
  return pow2_mul(p, n);
}

inline V erf(V x) {
  V ax = abs(x);
  V t = div(Vec::set1(1.0f), Vec::fmadd(ax, Vec::set1(0.3275911f), Vec::set1(1.0f)));
  V q = Vec::set1(1.061405429f);
  q = Vec::fmadd(q, t, Vec::set1(-1.453152027f));
  q = Vec::fmadd(q, t, Vec::set1(1.421413741f));
  q = Vec::fmadd(q, t, Vec::set1(-0.284496736f));
  q = Vec::fmadd(q, t, Vec::set1(0.254829592f));
  q = Vec::mul(q, t);
  V e = exp(Vec::mul(sub(Vec::zero(), ax), ax));
  return copysign(Vec::fmadd(sub(Vec::zero(), q), e, Vec::set1(1.0f)), x);
}

inline V tanh(V x) {
  V ax = abs(x);
  // |x| >= 0.625: 1 - 2/(e^{2|x|} + 1), saturating to 1 (e^{2|x|} = inf gives exactly 1).
  V e = exp(Vec::add(ax, ax));
  V big = sub(Vec::set1(1.0f), div(Vec::set1(2.0f), Vec::add(e, Vec::set1(1.0f))));
  // |x| < 0.625: x + x^3 P(x^2), the minimax polynomial of Cephes' tanhf (relative error ~1e-7).
  V z = Vec::mul(x, x);
  V p = Vec::set1(-5.70498872745e-3f);
  p = Vec::fmadd(p, z, Vec::set1(2.06390887954e-2f));
  p = Vec::fmadd(p, z, Vec::set1(-5.37397155531e-2f));
  p = Vec::fmadd(p, z, Vec::set1(1.33314422036e-1f));
  p = Vec::fmadd(p, z, Vec::set1(-3.33332819422e-1f));
  V small = Vec::fmadd(Vec::mul(p, z), x, x);
  return select_less(ax, Vec::set1(0.625f), small, copysign(big, x));
}

inline V sigmoid(V x) {
  const V one = Vec::set1(1.0f);
  return div(one, Vec::add(one, exp(sub(Vec::zero(), x))));
}
inline V silu(V x) { return Vec::mul(x, sigmoid(x)); }
inline V silu_grad(V x) {
  const V s = sigmoid(x), one = Vec::set1(1.0f);
  return Vec::mul(s, Vec::fmadd(x, sub(one, s), one));
}

// Row reductions for the softmax-like kernels.
inline float row_max(const float* x, int64_t n) {
  float m = -std::numeric_limits<float>::infinity();
#pragma omp simd reduction(max : m)
  for (int64_t i = 0; i < n; ++i) m = x[i] > m ? x[i] : m;
  return m;
}

// sum_j exp(x_j - shift), vectorised; the tail is padded with -inf (contributing exp(-inf) = 0).
inline float sum_exp(const float* x, int64_t n, float shift) {
  const V s = Vec::set1(shift);
  V acc = Vec::zero();
  int64_t i = 0;
  for (; i + Vec::W <= n; i += Vec::W) acc = Vec::add(acc, exp(sub(Vec::loadu(x + i), s)));
  if (i < n) {
    float buf[Vec::W];
    std::fill(buf, buf + Vec::W, -std::numeric_limits<float>::infinity());
    std::memcpy(buf, x + i, static_cast<size_t>(n - i) * sizeof(float));
    acc = Vec::add(acc, exp(sub(Vec::loadu(buf), s)));
  }
  return Vec::reduce_add(acc);
}

// y[i] = fn(x[i]) (map) or fn(a[i], b[i]) (map2) over [0, n): whole registers, then the tail zero-padded
// into one register, so tails get exactly the vector arithmetic.
template <class Fn>
inline void map(const float* x, float* y, int64_t n, Fn&& fn) {
  int64_t i = 0;
  for (; i + Vec::W <= n; i += Vec::W) Vec::storeu(y + i, fn(Vec::loadu(x + i)));
  if (i == n) return;
  float xb[Vec::W] = {}, yb[Vec::W];
  const size_t rest = static_cast<size_t>(n - i) * sizeof(float);
  std::memcpy(xb, x + i, rest);
  Vec::storeu(yb, fn(Vec::loadu(xb)));
  std::memcpy(y + i, yb, rest);
}

template <class Fn>
inline void map2(const float* a, const float* b, float* y, int64_t n, Fn&& fn) {
  int64_t i = 0;
  for (; i + Vec::W <= n; i += Vec::W) Vec::storeu(y + i, fn(Vec::loadu(a + i), Vec::loadu(b + i)));
  if (i == n) return;
  float ab[Vec::W] = {}, bb[Vec::W] = {}, yb[Vec::W];
  const size_t rest = static_cast<size_t>(n - i) * sizeof(float);
  std::memcpy(ab, a + i, rest);
  std::memcpy(bb, b + i, rest);
  Vec::storeu(yb, fn(Vec::loadu(ab), Vec::loadu(bb)));
  std::memcpy(y + i, yb, rest);
}

}  // namespace sk::simd
