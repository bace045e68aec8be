// Activation kernels, forward and backward side by side.
//
// GELU, exact:  y = x Phi(x) = x/2 (1 + erf(x / sqrt 2)),      dy/dx = Phi(x) + x phi(x),
//               phi(x) = exp(-x^2/2) / sqrt(2 pi).
// GELU, tanh:   u = k (x + c x^3), k = sqrt(2/pi), c = 0.044715,  y = x/2 (1 + tanh u),
//               dy/dx = (1 + tanh u)/2 + x/2 (1 - tanh^2 u) k (1 + 3 c x^2).
// softmax:      y_j = exp(x_j - m) / s,  m = max_j x_j,  s = sum_j exp(x_j - m) (exp and sum in one pass);
//               dx_j = y_j (dy_j - sum_k dy_k y_k).
// log_softmax:  y_j = x_j - m - log s;   dx_j = dy_j - exp(y_j) sum_k dy_k.
// dropout:      y_i = x_i [u_i >= p] / (1 - p),  u_i = uniform(seed, i) from splitmix64 of (seed, i);
//               dx_i = dy_i [u_i >= p] / (1 - p)  (the mask is recomputed, never stored).
//
// Element-wise kernels split the flat range over threads; row kernels split rows. exp, erf and tanh are
// the vectorised versions of simd_math.h.
#include "seqkernels/activation.h"

#include <algorithm>
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

// y[i] = exp(x[i] - shift) for i < n; returns their sum (the tail through the same vector exp, padded with -inf).
float exp_and_sum(float* y, const float* x, int64_t n, float shift) {
  const V vs = Vec::set1(shift);
  V acc = Vec::zero();
  int64_t i = 0;
  for (; i + Vec::W <= n; i += Vec::W) {
    const V e = simd::exp(simd::sub(Vec::loadu(x + i), vs));
    Vec::storeu(y + i, e);
    acc = Vec::add(acc, e);
  }
  if (i < n) {
    float buf[Vec::W];
    std::fill(buf, buf + Vec::W, -std::numeric_limits<float>::infinity());
    std::copy(x + i, x + n, buf);
    const V e = simd::exp(simd::sub(Vec::loadu(buf), vs));
    Vec::storeu(buf, e);
    std::copy(buf, buf + (n - i), y + i);
    acc = Vec::add(acc, e);
  }
  return Vec::reduce_add(acc);
}

constexpr int64_t kColumns = 256;  // columns per work item of the softmax over a dim that is not the last

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

void softmax_forward(float* y, const float* x, int64_t outer, int64_t dim, int64_t inner, bool log) {
  if (inner == 1) {
    parallel_for(outer, row_grain(dim), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const float* xr = x + r * dim;
        float* yr = y + r * dim;
        const float m = simd::row_max(xr, dim);
        if (log) {
          const V shift = Vec::set1(m + std::log(simd::sum_exp(xr, dim, m)));
          simd::map(xr, yr, dim, [&](V v) { return simd::sub(v, shift); });
        } else {
          const V inv = Vec::set1(1.0f / exp_and_sum(yr, xr, dim, m));
          simd::map(yr, yr, dim, [&](V v) { return Vec::mul(v, inv); });
        }
      }
    });
    return;
  }
  // Column blocks of the (dim, inner) matrix of each outer index: per column the max, then exp and its sum
  // in one pass, then the scaling.
  const int64_t per_row = (inner + kColumns - 1) / kColumns;
  parallel_for(outer * per_row, 1, [&](int64_t b, int64_t e) {
    float m[kColumns], s[kColumns];
    for (int64_t item = b; item < e; ++item) {
      const int64_t o = item / per_row, c0 = item % per_row * kColumns, w = std::min(kColumns, inner - c0);
      const float* xo = x + o * dim * inner + c0;
      float* yo = y + o * dim * inner + c0;
      std::copy(xo, xo + w, m);
      for (int64_t d = 1; d < dim; ++d)
        for (int64_t c = 0; c < w; ++c) m[c] = std::max(m[c], xo[d * inner + c]);
      std::fill(s, s + w, 0.0f);
      for (int64_t d = 0; d < dim; ++d) {
        float* yr = yo + d * inner;
        simd::map2(xo + d * inner, m, yr, w, [](V v, V mv) { return simd::exp(simd::sub(v, mv)); });
        for (int64_t c = 0; c < w; ++c) s[c] += yr[c];
      }
      for (int64_t c = 0; c < w; ++c) s[c] = log ? m[c] + std::log(s[c]) : 1.0f / s[c];
      for (int64_t d = 0; d < dim; ++d) {
        float* yr = yo + d * inner;
        if (log)
          simd::map2(xo + d * inner, s, yr, w, [](V v, V shift) { return simd::sub(v, shift); });
        else
          simd::map2(yr, s, yr, w, [](V v, V inv) { return Vec::mul(v, inv); });
      }
    }
  });
}

void softmax_backward(float* dx, const float* dy, const float* y, int64_t outer, int64_t dim, int64_t inner,
                      bool log) {
  if (inner == 1) {
    parallel_for(outer, row_grain(dim), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const float* dyr = dy + r * dim;
        const float* yr = y + r * dim;
        float* dxr = dx + r * dim;
        if (log) {
          const V total = Vec::set1(sum(dyr, dim));
          simd::map2(dyr, yr, dxr, dim, [&](V g, V ly) { return simd::sub(g, Vec::mul(simd::exp(ly), total)); });
        } else {
          const V inner_product = Vec::set1(dot(dyr, yr, dim));
          simd::map2(dyr, yr, dxr, dim, [&](V g, V p) { return Vec::mul(p, simd::sub(g, inner_product)); });
        }
      }
    });
    return;
  }
  // Column blocks: acc = Σ_d dy y (softmax) or Σ_d dy (log_softmax) per column, then dx row by row.
  const int64_t per_row = (inner + kColumns - 1) / kColumns;
  parallel_for(outer * per_row, 1, [&](int64_t b, int64_t e) {
    float acc[kColumns];
    for (int64_t item = b; item < e; ++item) {
      const int64_t o = item / per_row, c0 = item % per_row * kColumns, w = std::min(kColumns, inner - c0);
      const int64_t base = o * dim * inner + c0;
      std::fill(acc, acc + w, 0.0f);
      for (int64_t d = 0; d < dim; ++d) {
        const float *g = dy + base + d * inner, *p = y + base + d * inner;
        for (int64_t c = 0; c < w; ++c) acc[c] += log ? g[c] : g[c] * p[c];
      }
      for (int64_t d = 0; d < dim; ++d) {
        const int64_t at = base + d * inner;
        if (log)
          for (int64_t c = 0; c < w; ++c) dx[at + c] = dy[at + c] - std::exp(y[at + c]) * acc[c];
        else
          for (int64_t c = 0; c < w; ++c) dx[at + c] = y[at + c] * (dy[at + c] - acc[c]);
      }
    }
  });
}

void dropout(float* y, const float* x, int64_t n, float p, uint64_t seed) {
  const float scale = 1.0f / (1.0f - p);
  // Captured by value: a store to y cannot then alias x, p, scale or seed, so the loop vectorises.
  parallel_for(n, kElementGrain, [=](int64_t b, int64_t e) {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) {
      const float u = static_cast<float>(mix(seed, static_cast<uint64_t>(i)) >> 40) * 0x1p-24f;
      y[i] = u >= p ? x[i] * scale : 0.0f;
    }
  });
}

}  // namespace sk
