// RMS normalisation over the last dimension of a (rows, dim) float32 matrix (Llama, T5):
//   rstd = 1 / sqrt(mean_j x_j^2 + eps),  y = x · rstd · weight.
#pragma once
#include <cstdint>

namespace sk {

struct RmsNormSizes {
  int64_t rows = 0, dim = 0;
  float eps = 1e-6f;
};

// y (rows, dim), rstd (rows) or null; x (rows, dim); weight (dim) or null (no scale). y may alias x.
void rms_norm_forward(float* y, float* rstd, const float* x, const float* weight, const RmsNormSizes& sizes);

// dx (rows, dim) and dweight (dim, or null: not wanted) from dy, x, the weight and forward's rstd.
void rms_norm_backward(float* dx, float* dweight, const float* dy, const float* x, const float* rstd,
                       const float* weight, const RmsNormSizes& sizes);

}  // namespace sk
