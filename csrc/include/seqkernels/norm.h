// Layer normalisation over the last dimension of a (rows, dim) float32 matrix.
#pragma once
#include <cstdint>

namespace sk {

// y = (x - mean) * rstd * weight + bias per row; also writes mean[rows] and rstd[rows] for backward.
// weight and bias may be null (no affine transform / no shift).
void layer_norm_forward(const float* x, const float* weight, const float* bias, float* y, float* mean,
                        float* rstd, int64_t rows, int64_t dim, float eps);

// dx from dy and the saved mean/rstd; dweight = sum_rows dy * xhat and dbias = sum_rows dy when non-null
// (reduced in a fixed order: the result is the same on every run at a given thread count).
void layer_norm_backward(const float* dy, const float* x, const float* weight, const float* mean,
                         const float* rstd, float* dx, float* dweight, float* dbias, int64_t rows, int64_t dim);

}  // namespace sk
