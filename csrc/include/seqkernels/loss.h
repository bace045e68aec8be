// Fused softmax cross-entropy over (rows, classes) float32 logits with class-index targets.
#pragma once
#include <cstdint>

namespace sk {

// Per row i with target t = target[i] (rows whose target equals ignore_index get loss 0):
//   loss[i] = (1 - eps) w_t (lse_i - z_it) + eps/C sum_c w_c (lse_i - z_ic),   lse_i = log sum_c exp z_ic,
// with w = class_weight (null: all ones) and eps = label_smoothing. Also writes lse[i] for backward, and
// the reductions' ingredients in double: loss_sum = sum_i loss[i], weight_sum = sum of w_t over the rows
// that are not ignored ('mean' is loss_sum / weight_sum, as torch).
// loss, lse (rows); loss_sum, weight_sum one double each; logits (rows, classes), target (rows),
// class_weight (classes) or null. Targets must lie in [0, classes) or equal ignore_index (the caller checks).
void cross_entropy_forward(float* loss, float* lse, double* loss_sum, double* weight_sum, const float* logits,
                           const int64_t* target, const float* class_weight, int64_t rows, int64_t classes,
                           int64_t ignore_index, float label_smoothing);

// dlogits (rows, classes): dlogits[i, c] = dy[i] ((1 - eps) w_t (p_ic - [c = t]) + eps/C (W p_ic - w_c)),
//   p_ic = exp(z_ic - lse_i),  W = sum_c w_c;  zero for ignored rows.
// dy (rows) the gradient of loss; logits, target, class_weight as forward; lse (rows) from forward.
void cross_entropy_backward(float* dlogits, const float* dy, const float* logits, const int64_t* target,
                            const float* lse, const float* class_weight, int64_t rows, int64_t classes,
                            int64_t ignore_index, float label_smoothing);

}  // namespace sk
