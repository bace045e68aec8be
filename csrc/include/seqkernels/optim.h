// Fused in-place optimizer updates over flat float32 arrays (one parameter tensor at a time), following
// torch.optim's single-tensor formulas operation by operation.
#pragma once
#include <cstdint>

namespace sk {

struct AdamConfig {
  float beta1, beta2, eps, weight_decay;
  bool decoupled_weight_decay;  // AdamW: p *= 1 - lr*wd; Adam: g += wd*p
  float step_size;              // lr / (1 - beta1^step), computed by the caller in double as torch does
  float bias_correction2_sqrt;  // sqrt(1 - beta2^step)
  float decay_factor;           // 1 - lr*wd (AdamW)
};

// param (n) updated in place with grad (n); exp_avg, exp_avg_sq (n) (and max_exp_avg_sq (n) when amsgrad,
// else null) are the optimizer state, updated too.
void adam_step(float* param, float* exp_avg, float* exp_avg_sq, float* max_exp_avg_sq, const float* grad, int64_t n,
               const AdamConfig& config);

struct SgdConfig {
  float lr, momentum, dampening, weight_decay;
  bool nesterov;
  bool first_step;  // the momentum buffer is initialised to the gradient (torch's rule), not decayed
};

// param (n) updated in place with grad (n); momentum_buffer (n), updated too, is null when momentum == 0.
void sgd_step(float* param, float* momentum_buffer, const float* grad, int64_t n, const SgdConfig& config);

}  // namespace sk
