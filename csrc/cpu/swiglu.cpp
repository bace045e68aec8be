// Fused SwiGLU, forward and backward (silu and silu' from simd_math.h; plain SiLU is the element-wise family's).
//
//   swiglu(g, u) = silu(g) u,         dg = dy u silu'(g),  du = dy silu(g)
// Over rows (the operands may be strided halves of one matrix: the fused gate/up projection's output), split
// over threads.
#include "seqkernels/swiglu.h"

#include "seqkernels/parallel.h"
#include "simd_math.h"

namespace sk {
namespace {
using simd::V;
using simd::Vec;
using simd::silu;
using simd::silu_grad;
}  // namespace

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
