// Losses over float32 logits: fused softmax cross-entropy over (rows, classes) with class-index targets, and
// the element-wise binary cross-entropy on logits and mean squared error.
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

// Binary cross-entropy on logits, element-wise (torch's binary_cross_entropy_with_logits):
//   loss[i] = w_i ((1 - t_i) x_i + (1 + (p_c - 1) t_i) softplus(-x_i)),  c = i mod classes,
// stable for any x (softplus(-x) = max(-x, 0) + log(1 + e^-|x|)). w = weight (null: ones), p = pos_weight over
// the last dim (null: ones). loss (n) or null when only the sum is wanted; loss_sum (one double) = Σ loss.
// x, target (n); weight (n) or null; pos_weight (classes) or null, n a multiple of classes.
void bce_with_logits_forward(float* loss, double* loss_sum, const float* x, const float* target, const float* weight,
                             const float* pos_weight, int64_t n, int64_t classes);
// dx (n) = dy_i w_i ((1 + (p_c - 1) t_i) σ(x_i) - p_c t_i),  dtarget (n) = dy_i w_i ((p_c - 1) softplus(-x_i) - x_i);
// each null when not wanted. dy read with stride dy_stride (0: one value for every element, a reduced loss's
// gradient already divided by n for 'mean'); the rest as forward.
void bce_with_logits_backward(float* dx, float* dtarget, const float* dy, int64_t dy_stride, const float* x,
                              const float* target, const float* weight, const float* pos_weight, int64_t n,
                              int64_t classes);

// Mean squared error, element-wise: loss[i] = (x_i - t_i)²; loss (n) or null, loss_sum (one double) = Σ loss.
void mse_forward(float* loss, double* loss_sum, const float* x, const float* target, int64_t n);
// dx (n) = 2 (x_i - t_i) dy_i, dtarget (n) = -dx_i, each null when not wanted; dy with stride dy_stride as above.
void mse_backward(float* dx, float* dtarget, const float* dy, int64_t dy_stride, const float* x, const float* target,
                  int64_t n);

}  // namespace sk
