// Rotary position embedding, forward and backward (the inverse rotation).
//
// As Hugging Face computes it in float32: inv_freq_i = 1 / θ^(2i/R), angle = float(p) · inv_freq_i (a
// float32 product), then cos and sin of that float32 angle (taken in double and rounded, so they are
// correctly rounded). Per token the R/2 cos/sin pairs are computed once and applied to every head.
#include "seqkernels/rotary.h"

#include <cmath>
#include <vector>

#include "seqkernels/parallel.h"

namespace sk {
namespace {

void rotate(float* y, const float* x, const int64_t* positions, const RotarySizes& s, float direction) {
  const int64_t half = s.rotary_dim / 2, D = s.head_dim;
  std::vector<float> inv_freq(static_cast<size_t>(half));
  for (int64_t i = 0; i < half; ++i)
    inv_freq[i] = 1.0f / std::pow(s.theta, static_cast<float>(2 * i) / static_cast<float>(s.rotary_dim));
  parallel_for(s.tokens, row_grain(s.heads * D), [&](int64_t t0, int64_t t1) {
    std::vector<float> cs(static_cast<size_t>(2 * half));
    float *cosv = cs.data(), *sinv = cs.data() + half;
    for (int64_t t = t0; t < t1; ++t) {
      const float p = static_cast<float>(positions[t]);
      for (int64_t i = 0; i < half; ++i) {
        const double angle = static_cast<double>(p * inv_freq[i]);
        cosv[i] = static_cast<float>(std::cos(angle));
        sinv[i] = direction * static_cast<float>(std::sin(angle));
      }
      for (int64_t h = 0; h < s.heads; ++h) {
        const float* xh = x + t * s.ld + h * D;
        float* yh = y + t * s.ld + h * D;
        if (s.interleaved) {
#pragma omp simd
          for (int64_t i = 0; i < half; ++i) {
            const float a = xh[2 * i], b = xh[2 * i + 1];
            yh[2 * i] = a * cosv[i] - b * sinv[i];
            yh[2 * i + 1] = b * cosv[i] + a * sinv[i];
          }
        } else {
#pragma omp simd
          for (int64_t i = 0; i < half; ++i) {
            const float a = xh[i], b = xh[i + half];
            yh[i] = a * cosv[i] - b * sinv[i];
            yh[i + half] = b * cosv[i] + a * sinv[i];
          }
        }
        if (yh != xh)
          for (int64_t j = s.rotary_dim; j < D; ++j) yh[j] = xh[j];
      }
    }
  });
}

}  // namespace

void rotary_forward(float* y, const float* x, const int64_t* positions, const RotarySizes& sizes) {
  rotate(y, x, positions, sizes, 1.0f);
}

void rotary_backward(float* dx, const float* dy, const int64_t* positions, const RotarySizes& sizes) {
  rotate(dx, dy, positions, sizes, -1.0f);
}

}  // namespace sk
