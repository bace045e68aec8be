// Fused softmax cross-entropy, forward and backward (torch.nn.functional.cross_entropy semantics).
//
// Forward, row i, logits z (C classes), target t, class weights w (all ones when absent), smoothing eps:
//   m = max_c z_c,  lse = m + log sum_c exp(z_c - m)
//   loss = (1 - eps) w_t (lse - z_t) + eps/C sum_c w_c (lse - z_c),   W = sum_c w_c
// i.e. -(1-eps) w_t log p_t - eps/C sum_c w_c log p_c, torch's label-smoothing definition (summed term by term,
// so that an infinite class weight gives an infinite loss as torch's does, not W lse - inf = NaN).
// Backward, with upstream g_i (the reduction's scale folded in by the caller), p_c = exp(z_c - lse):
//   dz_c = g_i ((1 - eps) w_t + eps/C W) p_c - g_i eps/C w_c - g_i (1 - eps) w_t [c = t]
// computed in one vectorised pass over the row plus a fix-up of the target column.
// Ignored rows (t = ignore_index) have loss 0 and gradient 0. Rows are split over threads; a NaN logit
// makes its row's loss NaN.
#include "seqkernels/loss.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "seqkernels/parallel.h"
#include "simd_math.h"

namespace sk {
namespace {

using simd::V;
using simd::Vec;

// log sum_c exp z_c, max-subtracted.
float log_sum_exp(const float* z, int64_t n) {
  const float m = simd::row_max(z, n);
  if (std::isinf(m)) return m;  // all -inf (lse -inf) or some +inf (lse +inf)
  return m + std::log(simd::sum_exp(z, n, m));
}

// W = sum_c w_c (C when there are no class weights).
float sum_of_weights(const float* class_weight, int64_t classes) {
  if (!class_weight) return static_cast<float>(classes);
  float total = 0.0f;
  for (int64_t c = 0; c < classes; ++c) total += class_weight[c];
  return total;
}

}  // namespace

void cross_entropy_forward(float* loss, float* lse, double* loss_sum, double* weight_sum, const float* logits,
                           const int64_t* target, const float* class_weight, int64_t rows, int64_t classes,
                           int64_t ignore_index, float label_smoothing) {
  const float eps = label_smoothing, smooth = eps / static_cast<float>(classes);
  parallel_for(rows, row_grain(classes), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* z = logits + r * classes;
      const int64_t t = target[r];
      const float l = log_sum_exp(z, classes);
      lse[r] = l;
      if (t == ignore_index) {
        loss[r] = 0.0f;
        continue;
      }
      const float wt = class_weight ? class_weight[t] : 1.0f;
      float value = (1.0f - eps) * wt * (l - z[t]);
      if (eps != 0.0f) {
        float weighted_sum = 0.0f;
        if (class_weight) {
#pragma omp simd reduction(+ : weighted_sum)
          for (int64_t c = 0; c < classes; ++c) weighted_sum += class_weight[c] * (l - z[c]);
        } else {
#pragma omp simd reduction(+ : weighted_sum)
          for (int64_t c = 0; c < classes; ++c) weighted_sum += l - z[c];
        }
        value += smooth * weighted_sum;
      }
      loss[r] = value;
    }
  });
  // The totals in row order (O(rows) next to the O(rows * classes) above): deterministic.
  double total = 0.0, weights = 0.0;
  for (int64_t r = 0; r < rows; ++r) {
    total += loss[r];
    if (target[r] != ignore_index) weights += class_weight ? class_weight[target[r]] : 1.0f;
  }
  *loss_sum = total;
  *weight_sum = weights;
}

void cross_entropy_backward(float* dlogits, const float* dy, const float* logits, const int64_t* target,
                            const float* lse, const float* class_weight, int64_t rows, int64_t classes,
                            int64_t ignore_index, float label_smoothing) {
  const float eps = label_smoothing, smooth = eps / static_cast<float>(classes);
  const float total_weight = sum_of_weights(class_weight, classes);
  parallel_for(rows, row_grain(classes), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* z = logits + r * classes;
      float* dz = dlogits + r * classes;
      const int64_t t = target[r];
      if (t == ignore_index) {
        std::fill(dz, dz + classes, 0.0f);
        continue;
      }
      const float g = dy[r];
      const float wt = class_weight ? class_weight[t] : 1.0f;
      const V scale = Vec::set1(g * ((1.0f - eps) * wt + smooth * total_weight));
      const V shift = Vec::set1(lse[r]);
      const auto softmax_part = [&](V v) { return Vec::mul(scale, simd::exp(simd::sub(v, shift))); };
      if (class_weight && eps != 0.0f) {
        const V gs = Vec::set1(-g * smooth);
        simd::map2(z, class_weight, dz, classes, [&](V v, V w) { return Vec::fmadd(gs, w, softmax_part(v)); });
      } else {
        const V gs = Vec::set1(-g * smooth);  // uniform smoothing term (zero without smoothing)
        simd::map(z, dz, classes, [&](V v) { return Vec::add(softmax_part(v), gs); });
      }
      dz[t] -= g * (1.0f - eps) * wt;
    }
  });
}

// ---- element-wise losses: BCE on logits, MSE ---------------------------------------------------------------
//
// Sums go through fixed chunks of kSumChunk elements, each a double partial, added in chunk order: the same total
// whatever the thread count.

namespace {

constexpr int64_t kSumChunk = 1 << 13;

// Σ_i term(i) for i in [0, n), term computed in float and summed in double per fixed chunk; loss[i] = term(i)
// when loss is non-null.
template <class Term>
double chunked_sum(float* loss, int64_t n, Term term) {
  const int64_t chunks = (n + kSumChunk - 1) / kSumChunk;
  std::vector<double> partial(static_cast<size_t>(std::max<int64_t>(chunks, 1)), 0.0);
  parallel_for(chunks, 1, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) {
      double s = 0.0;
      for (int64_t i = c * kSumChunk, end = std::min(n, (c + 1) * kSumChunk); i < end; ++i) {
        const float l = term(i);
        if (loss) loss[i] = l;
        s += l;
      }
      partial[c] = s;
    }
  });
  double total = 0.0;
  for (int64_t c = 0; c < chunks; ++c) total += partial[c];
  return total;
}

inline float softplus_neg(float x) { return std::max(-x, 0.0f) + std::log1p(std::exp(-std::fabs(x))); }
inline float sigmoid_of(float x) {
  const float e = std::exp(-std::fabs(x));
  return x >= 0.0f ? 1.0f / (1.0f + e) : e / (1.0f + e);
}

}  // namespace

void bce_with_logits_forward(float* loss, double* loss_sum, const float* x, const float* target, const float* weight,
                             const float* pos_weight, int64_t n, int64_t classes) {
  *loss_sum = chunked_sum(loss, n, [&](int64_t i) {
    const float t = target[i], p = pos_weight ? pos_weight[i % classes] : 1.0f;
    const float l = (1.0f - t) * x[i] + (1.0f + (p - 1.0f) * t) * softplus_neg(x[i]);
    return weight ? weight[i] * l : l;
  });
}

void bce_with_logits_backward(float* dx, float* dtarget, const float* dy, int64_t dy_stride, const float* x,
                              const float* target, const float* weight, const float* pos_weight, int64_t n,
                              int64_t classes) {
  parallel_for(n, kElementGrain, [&](int64_t b, int64_t e) {
    for (int64_t i = b; i < e; ++i) {
      const float t = target[i], p = pos_weight ? pos_weight[i % classes] : 1.0f;
      const float g = dy[i * dy_stride] * (weight ? weight[i] : 1.0f);
      if (dx) dx[i] = g * ((1.0f + (p - 1.0f) * t) * sigmoid_of(x[i]) - p * t);
      if (dtarget) dtarget[i] = g * ((p - 1.0f) * softplus_neg(x[i]) - x[i]);
    }
  });
}

void mse_forward(float* loss, double* loss_sum, const float* x, const float* target, int64_t n) {
  *loss_sum = chunked_sum(loss, n, [&](int64_t i) {
    const float d = x[i] - target[i];
    return d * d;
  });
}

void mse_backward(float* dx, float* dtarget, const float* dy, int64_t dy_stride, const float* x, const float* target,
                  int64_t n) {
  parallel_for(n, kElementGrain, [&](int64_t b, int64_t e) {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) {
      const float g = 2.0f * (x[i] - target[i]) * dy[i * dy_stride];
      if (dx) dx[i] = g;
      if (dtarget) dtarget[i] = -g;
    }
  });
}

}  // namespace sk
