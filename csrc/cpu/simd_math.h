// Vector math over simd::Vec for the CPU kernels: sub and a fast exp.
//
// exp(x) = 2^n * e^r with n = round(x * log2 e) and r = x - n * ln2, where ln2 is split into a part
// with few mantissa bits and a small remainder (Cody–Waite), so r is exact to float rounding and
// |r| <= ln2 / 2. e^r is its Taylor series to degree 7 in Horner form: the first omitted term is
// below 0.347^8 / 8! ~ 5e-9, under half an ulp, so the result is within ~2 ulp of expf. 2^n is built
// directly in the exponent bits. Inputs below -87.3 (where e^x would be denormal) give exactly 0 —
// including -inf, which is what a masked attention score is — and inputs above 88.3 saturate at
// e^88.3; NaN propagates.
#pragma once
#include "simd.h"

namespace sk::simd {

namespace exp_detail {
constexpr float kLog2e = 1.44269504088896341f;
constexpr float kLn2Hi = 0.693359375f;         // ln 2 with 9 significant bits: n * kLn2Hi is exact
constexpr float kLn2Lo = -2.12194440e-4f;      // ln 2 - kLn2Hi
constexpr float kLowest = -87.3f;               // below this, e^x is flushed to 0
constexpr float kHighest = 88.3f;               // above this, e^x saturates
// 1/k! for k = 7 .. 2 (the degree-1 and degree-0 coefficients are 1).
constexpr float kInvFact[] = {1.0f / 5040, 1.0f / 720, 1.0f / 120, 1.0f / 24, 1.0f / 6, 0.5f};
}  // namespace exp_detail

#if defined(__AVX512F__)
inline Vec::T sub(Vec::T a, Vec::T b) { return _mm512_sub_ps(a, b); }
#elif defined(__AVX2__) && defined(__FMA__)
inline Vec::T sub(Vec::T a, Vec::T b) { return _mm256_sub_ps(a, b); }
#elif defined(__ARM_NEON)
inline Vec::T sub(Vec::T a, Vec::T b) { return vsubq_f32(a, b); }
#else
inline Vec::T sub(Vec::T a, Vec::T b) { return a - b; }
#endif

// e^x lane by lane (see the header comment for accuracy and range).
inline Vec::T exp(Vec::T x) {
  using namespace exp_detail;
#if defined(__AVX512F__)
  const __mmask16 representable = _mm512_cmp_ps_mask(x, _mm512_set1_ps(kLowest), _CMP_NLT_UQ);
  // The maskz forms with an all-ones mask avoid GCC 12's spurious -Wuninitialized on the plain ones.
  x = _mm512_maskz_min_ps(0xFFFF, _mm512_set1_ps(kHighest), x);  // min/max return the 2nd operand on NaN
  const __m512 n = _mm512_maskz_roundscale_ps(0xFFFF, _mm512_mul_ps(x, _mm512_set1_ps(kLog2e)),
                                              _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
#elif defined(__AVX2__) && defined(__FMA__)
  const __m256 representable = _mm256_cmp_ps(x, _mm256_set1_ps(kLowest), _CMP_NLT_UQ);
  x = _mm256_min_ps(_mm256_set1_ps(kHighest), x);
  const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(kLog2e)),
                                   _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
#elif defined(__ARM_NEON)
  const uint32x4_t underflow = vcltq_f32(x, vdupq_n_f32(kLowest));
  x = vminq_f32(x, vdupq_n_f32(kHighest));
  const float32x4_t n = vrndnq_f32(vmulq_f32(x, vdupq_n_f32(kLog2e)));
#else
  typedef int I __attribute__((vector_size(16)));
  const I underflow = x < Vec::set1(kLowest);
  x = x > Vec::set1(kHighest) ? Vec::set1(kHighest) : x;
  // Adding and subtracting 1.5 * 2^23 rounds to the nearest integer in float arithmetic.
  const Vec::T magic = Vec::set1(12582912.0f);
  const Vec::T n = (x * Vec::set1(kLog2e) + magic) - magic;
#endif
  Vec::T r = Vec::fmadd(n, Vec::set1(-kLn2Hi), x);
  r = Vec::fmadd(n, Vec::set1(-kLn2Lo), r);
  Vec::T p = Vec::set1(kInvFact[0]);
  for (int k = 1; k < 6; ++k) p = Vec::fmadd(p, r, Vec::set1(kInvFact[k]));
  p = Vec::fmadd(p, r, Vec::set1(1.0f));
  p = Vec::fmadd(p, r, Vec::set1(1.0f));
#if defined(__AVX512F__)
  return _mm512_maskz_scalef_ps(representable, p, n);
#elif defined(__AVX2__) && defined(__FMA__)
  const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
  return _mm256_and_ps(_mm256_mul_ps(p, _mm256_castsi256_ps(bits)), representable);
#elif defined(__ARM_NEON)
  const int32x4_t bits = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(n), vdupq_n_s32(127)), 23);
  const float32x4_t e = vmulq_f32(p, vreinterpretq_f32_s32(bits));
  return vreinterpretq_f32_u32(vbicq_u32(vreinterpretq_u32_f32(e), underflow));
#else
  const I bits = (__builtin_convertvector(n, I) + 127) << 23;
  Vec::T scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  const Vec::T e = p * scale;
  I e_bits;
  std::memcpy(&e_bits, &e, sizeof(e_bits));
  e_bits &= ~underflow;
  Vec::T out;
  std::memcpy(&out, &e_bits, sizeof(out));
  return out;
#endif
}

}  // namespace sk::simd
