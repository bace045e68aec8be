// Activation kernels, forward and backward side by side.
//
// GELU, exact:  y = x Phi(x) = x/2 (1 + erf(x / sqrt 2)),      dy/dx = Phi(x) + x phi(x),
//               phi(x) = exp(-x^2/2) / sqrt(2 pi).
// GELU, tanh:   u = k (x + c x^3), k = sqrt(2/pi), c = 0.044715,  y = x/2 (1 + tanh u),
//               dy/dx = (1 + tanh u)/2 + x/2 (1 - tanh^2 u) k (1 + 3 c x^2).
// softmax:      y_j = exp(x_j - m) / s,  m = max_j x_j,  s = sum_j exp(x_j - m);
//               dx_j = y_j (dy_j - sum_k dy_k y_k).
// log_softmax:  y_j = x_j - m - log s;   dx_j = dy_j - exp(y_j) sum_k dy_k.
// dropout:      y_i = x_i [u_i >= p] / (1 - p),  u_i = uniform(seed, i) from splitmix64 of (seed, i);
//               dx_i = dy_i [u_i >= p] / (1 - p)  (the mask is recomputed, never stored).
//
// Element-wise kernels split the flat range over threads; row kernels split rows. exp, erf and tanh are
// the vectorised versions of simd_math.h.
#include "seqkernels/activation.h"

#include <cmath>
#include <limits>

#include "seqkernels/parallel.h"
#include "simd_math.h"

namespace sk {
namespace {

using simd::V;
using simd::Vec;

template <class Fn>
void parallel_map(const float* x, float* y, int64_t n, Fn fn) {
  parallel_for(n, kElementGrain, [&](int64_t b, int64_t e) { simd::map(x + b, y + b, e - b, fn); });
}

template <class Fn>
void parallel_map2(const float* a, const float* c, float* y, int64_t n, Fn fn) {
  parallel_for(n, kElementGrain, [&](int64_t b, int64_t e) { simd::map2(a + b, c + b, y + b, e - b, fn); });
}

constexpr float kSqrtHalf = 0.70710678118654752f, kInvSqrt2Pi = 0.39894228040143268f;
constexpr float kTanhK = 0.79788456080286536f, kTanhC = 0.044715f;

V gelu_exact(V x) {
  V cdf = Vec::fmadd(Vec::set1(0.5f), simd::erf(Vec::mul(x, Vec::set1(kSqrtHalf))), Vec::set1(0.5f));
  return Vec::mul(x, cdf);
}

V gelu_exact_grad(V dy, V x) {
  V cdf = Vec::fmadd(Vec::set1(0.5f), simd::erf(Vec::mul(x, Vec::set1(kSqrtHalf))), Vec::set1(0.5f));
  V pdf = Vec::mul(Vec::set1(kInvSqrt2Pi), simd::exp(Vec::mul(Vec::set1(-0.5f), Vec::mul(x, x))));
  return Vec::mul(dy, Vec::fmadd(x, pdf, cdf));
}

V gelu_tanh_inner(V x) {  // k (x + c x^3)
  V x2 = Vec::mul(x, x);
  return Vec::mul(Vec::set1(kTanhK), Vec::mul(x, Vec::fmadd(Vec::set1(kTanhC), x2, Vec::set1(1.0f))));
}

V gelu_tanh(V x) {
  V t = simd::tanh(gelu_tanh_inner(x));
  return Vec::mul(Vec::mul(Vec::set1(0.5f), x), Vec::add(Vec::set1(1.0f), t));
}

V gelu_tanh_grad(V dy, V x) {
  V t = simd::tanh(gelu_tanh_inner(x));
  V half_x = Vec::mul(Vec::set1(0.5f), x);
  V du_dx = Vec::mul(Vec::set1(kTanhK), Vec::fmadd(Vec::set1(3.0f * kTanhC), Vec::mul(x, x), Vec::set1(1.0f)));
  V sech2 = simd::sub(Vec::set1(1.0f), Vec::mul(t, t));
  V grad = Vec::fmadd(Vec::mul(half_x, sech2), du_dx, Vec::fmadd(Vec::set1(0.5f), t, Vec::set1(0.5f)));
  return Vec::mul(dy, grad);
}

float dot(const float* a, const float* b, int64_t n) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) s += a[i] * b[i];
  return s;
}

float sum(const float* a, int64_t n) {
  float s = 0.0f;
#pragma omp simd reduction(+ : s)
  for (int64_t i = 0; i < n; ++i) s += a[i];
  return s;
}

// splitmix64's output function of the counter seed + i: a well-mixed 64-bit value per element.
inline uint64_t mix(uint64_t seed, uint64_t i) {
  uint64_t z = seed + (i + 1) * 0x9E3779B97F4A7C15ull;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
  return z ^ (z >> 31);
}

}  // namespace

void gelu_forward(float* y, const float* x, int64_t n, GeluApproximation approximation) {
  if (approximation == GeluApproximation::tanh)
    parallel_map(x, y, n, gelu_tanh);
  else
    parallel_map(x, y, n, gelu_exact);
}

void gelu_backward(float* dx, const float* dy, const float* x, int64_t n, GeluApproximation approximation) {
  if (approximation == GeluApproximation::tanh)
    parallel_map2(dy, x, dx, n, gelu_tanh_grad);
  else
    parallel_map2(dy, x, dx, n, gelu_exact_grad);
}

void softmax_forward(float* y, const float* x, int64_t rows, int64_t dim, bool log) {
  parallel_for(rows, row_grain(dim), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * dim;
      float* yr = y + r * dim;
      const float m = simd::row_max(xr, dim);
      const V vm = Vec::set1(m);
      if (log) {
        const V shift = Vec::set1(m + std::log(simd::sum_exp(xr, dim, m)));
        simd::map(xr, yr, dim, [&](V v) { return simd::sub(v, shift); });
      } else {
        simd::map(xr, yr, dim, [&](V v) { return simd::exp(simd::sub(v, vm)); });
        const V inv = Vec::set1(1.0f / sum(yr, dim));
        simd::map(yr, yr, dim, [&](V v) { return Vec::mul(v, inv); });
      }
    }
  });
}

void softmax_backward(float* dx, const float* dy, const float* y, int64_t rows, int64_t dim, bool log) {
  parallel_for(rows, row_grain(dim), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* dyr = dy + r * dim;
      const float* yr = y + r * dim;
      float* dxr = dx + r * dim;
      if (log) {
        const V total = Vec::set1(sum(dyr, dim));
        simd::map2(dyr, yr, dxr, dim, [&](V g, V ly) { return simd::sub(g, Vec::mul(simd::exp(ly), total)); });
      } else {
        const V inner = Vec::set1(dot(dyr, yr, dim));
        simd::map2(dyr, yr, dxr, dim, [&](V g, V p) { return Vec::mul(p, simd::sub(g, inner)); });
      }
    }
  });
}

void dropout(float* y, const float* x, int64_t n, float p, uint64_t seed) {
  const float scale = 1.0f / (1.0f - p);
  parallel_for(n, kElementGrain, [&](int64_t b, int64_t e) {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) {
      const float u = static_cast<float>(mix(seed, static_cast<uint64_t>(i)) >> 40) * 0x1p-24f;
      y[i] = u >= p ? x[i] * scale : 0.0f;
    }
  });
}

}  // namespace sk
