// Fully connected layer on our GEMM: y = x W^T + b over float32 row-major matrices.
//   x (M, K), W (N, K) as torch.nn.Linear stores it, b (N) or null, y (M, N).
#pragma once
#include <cstdint>

namespace sk {

// y (M, N) = x (M, K) · weightᵀ + bias;  weight (N, K), bias (N) or null.
void linear_forward(float* y, const float* x, const float* weight, const float* bias, int64_t M, int64_t N,
                    int64_t K);

// dx = dy W (M, K), dweight = dyᵀ x (N, K), dbias = column sums of dy (N); each null when not wanted.
// dy (M, N), x (M, K), weight (N, K).
void linear_backward(float* dx, float* dweight, float* dbias, const float* dy, const float* x, const float* weight,
                     int64_t M, int64_t N, int64_t K);

}  // namespace sk
