// Vectorisable float32 transcendental functions for pointwise kernels (activations, gates).
//
// Each function is branch-free scalar code over float/int arithmetic only (no libm calls), so a loop
// that applies it under `#pragma omp simd` compiles to straight SIMD on every ISA the build targets
// (AVX-512, AVX2, NEON, or the portable baseline).
//
//   exp_approx: Cephes expf — x = n ln2 + r with |r| <= ln2/2 (ln2 split in two for an exact
//               product), exp(r) by a degree-6 polynomial, 2^n built in the exponent bits. Relative
//               error <= 2 ulp on [-87, 88]; inputs outside are clamped (exp(-87) ~ 1.6e-38, exp(88) ~ 1.7e38).
//   sigmoid_approx: 1 / (1 + exp(-x)), saturating cleanly to 0 and 1.
//   tanh_approx: 2 / (1 + exp(-2x)) - 1 — absolute error <= ~1.2e-7, exact limits +-1.
#pragma once
#include <cstdint>
#include <cstring>

namespace sk::simd {

inline float exp_approx(float x) {
  x = x < -87.0f ? -87.0f : (x > 88.0f ? 88.0f : x);
  // n = round(x / ln2): the 1.5 * 2^23 trick rounds to nearest without a libm call.
  const float shifter = 12582912.0f;
  float n = (x * 1.44269504088896341f + shifter) - shifter;
  float r = x - n * 0.693359375f;
  r = r - n * -2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t bits = (static_cast<int32_t>(n) + 127) << 23;
  float scale;
  std::memcpy(&scale, &bits, sizeof(scale));
  return p * scale;
}

inline float sigmoid_approx(float x) { return 1.0f / (1.0f + exp_approx(-x)); }

inline float tanh_approx(float x) { return 2.0f / (1.0f + exp_approx(-2.0f * x)) - 1.0f; }

}  // namespace sk::simd
