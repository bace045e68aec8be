// Fully connected layer on our GEMM: y = x W^T + b over float32 row-major matrices.
//   x (M, K), W (N, K) as torch.nn.Linear stores it, b (N) or null, y (M, N).
#pragma once
#include <cstdint>

namespace sk {

void linear_forward(const float* x, const float* weight, const float* bias, float* y, int64_t M, int64_t N,
                    int64_t K);

// dx = dy W (M, K), dweight = dy^T x (N, K), dbias = column sums of dy (N); any output may be null (skipped).
void linear_backward(const float* dy, const float* x, const float* weight, float* dx, float* dweight,
                     float* dbias, int64_t M, int64_t N, int64_t K);

}  // namespace sk
