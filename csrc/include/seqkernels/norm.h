// Layer normalisation over the last dimension of a (rows, dim) float32 matrix.
#pragma once
#include <cstdint>

namespace sk {

// y (rows, dim) = (x - mean) * rstd * weight + bias per row; also writes mean (rows) and rstd (rows) for
// backward.  x (rows, dim); weight (dim) and bias (dim) may be null (no affine transform / no shift).
void layer_norm_forward(float* y, float* mean, float* rstd, const float* x, const float* weight, const float* bias,
                        int64_t rows, int64_t dim, float eps);

// dx (rows, dim); dweight (dim) = sum_rows dy * xhat and dbias (dim) = sum_rows dy, each null when not wanted
// (reduced in a fixed order: the result is the same on every run at a given thread count).
// dy, x (rows, dim); mean, rstd (rows) from forward; weight (dim) or null.
void layer_norm_backward(float* dx, float* dweight, float* dbias, const float* dy, const float* x, const float* mean,
                         const float* rstd, const float* weight, int64_t rows, int64_t dim);

}  // namespace sk
