// Fused softmax cross-entropy over (rows, classes) float32 logits with class-index targets.
#pragma once
#include <cstdint>

namespace sk {

// Per row i with target t = target[i] (rows whose target equals ignore_index get loss 0):
//   loss[i] = (1 - eps) w_t (lse_i - z_it) + eps/C sum_c w_c (lse_i - z_ic),   lse_i = log sum_c exp z_ic,
// with w = class_weight (null: all ones) and eps = label_smoothing. Also writes lse[i] for backward.
// Targets must lie in [0, classes) or equal ignore_index (the caller checks).
void cross_entropy_forward(const float* logits, const int64_t* target, const float* class_weight, float* loss,
                           float* lse, int64_t rows, int64_t classes, int64_t ignore_index, float label_smoothing);

// dlogits[i, c] = grad_loss[i] * ((1 - eps) w_t (p_ic - [c = t]) + eps/C (W p_ic - w_c)),
//   p_ic = exp(z_ic - lse_i),  W = sum_c w_c;  zero for ignored rows.
void cross_entropy_backward(const float* logits, const int64_t* target, const float* class_weight,
                            const float* lse, const float* grad_loss, float* dlogits, int64_t rows, int64_t classes,
                            int64_t ignore_index, float label_smoothing);

}  // namespace sk
