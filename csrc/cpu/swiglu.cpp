// SiLU and fused SwiGLU, forward and backward.
//
//   σ(x) = 1 / (1 + e^-x)            (simd_math.h's exp; e^-x -> inf gives σ = 0 and silu = -0)
//   silu(x) = x σ(x),                 silu'(x) = σ(x) (1 + x (1 - σ(x)))
//   swiglu(g, u) = silu(g) u,         dg = dy u silu'(g),  du = dy silu(g)
// Element-wise over flat ranges (SiLU) or rows (SwiGLU, whose operands may be strided halves of one
// matrix: the fused gate/up projection's output), split over threads.
#include "seqkernels/swiglu.h"

#include "seqkernels/parallel.h"
#include "simd_math.h"

namespace sk {
namespace {

using simd::V;
using simd::Vec;

V sigmoid(V x) {
  const V one = Vec::set1(1.0f);
  return simd::div(one, Vec::add(one, simd::exp(simd::sub(Vec::zero(), x))));
}

V silu(V x) { return Vec::mul(x, sigmoid(x)); }

V silu_grad(V x) {  // σ(x) (1 + x (1 - σ(x)))
  const V s = sigmoid(x), one = Vec::set1(1.0f);
  return Vec::mul(s, Vec::fmadd(x, simd::sub(one, s), one));
}

}  // namespace

void silu_forward(float* y, const float* x, int64_t n) {
  parallel_for(n, kElementGrain, [&](int64_t b, int64_t e) { simd::map(x + b, y + b, e - b, silu); });
}

void silu_backward(float* dx, const float* dy, const float* x, int64_t n) {
  parallel_for(n, kElementGrain, [&](int64_t b, int64_t e) {
    simd::map2(dy + b, x + b, dx + b, e - b, [](V g, V v) { return Vec::mul(g, silu_grad(v)); });
  });
}

void swiglu_forward(float* y, const float* gate, const float* up, const SwigluSizes& s) {
  parallel_for(s.rows, row_grain(s.dim), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      simd::map2(gate + r * s.ld_gate, up + r * s.ld_up, y + r * s.dim, s.dim,
                 [](V g, V u) { return Vec::mul(silu(g), u); });
  });
}

void swiglu_backward(float* dgate, float* dup, const float* dy, const float* gate, const float* up,
                     const SwigluSizes& s) {
  parallel_for(s.rows, row_grain(s.dim), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float *g = gate + r * s.ld_gate, *u = up + r * s.ld_up, *d = dy + r * s.dim;
      float *dg = dgate + r * s.dim, *du = dup + r * s.dim;
      int64_t j = 0;
      for (; j + Vec::W <= s.dim; j += Vec::W) {
        const V gv = Vec::loadu(g + j), uv = Vec::loadu(u + j), dv = Vec::loadu(d + j);
        Vec::storeu(dg + j, Vec::mul(Vec::mul(dv, uv), silu_grad(gv)));
        Vec::storeu(du + j, Vec::mul(dv, silu(gv)));
      }
      for (; j < s.dim; ++j) {  // the tail, one lane at a time through a broadcast register
        float gl[Vec::W], ul[Vec::W];
        Vec::storeu(gl, silu_grad(Vec::set1(g[j])));
        Vec::storeu(ul, silu(Vec::set1(g[j])));
        const float dj = d[j], uj = u[j];
        dg[j] = dj * uj * gl[0];
        du[j] = dj * ul[0];
      }
    }
  });
}

}  // namespace sk
