// Linear layer, forward and backward, on sk::gemm.
//
// Forward:   y = x W^T + b        x (M, K), W (N, K), b (N), y (M, N)
//            (b is fused by pre-filling every row of y with b and running the GEMM with beta = 1)
// Backward:  dx = dy W            (M, K)
//            dW = dy^T x          (N, K)
//            db = sum_rows dy     (N), each thread owning a block of columns: deterministic.
#include "seqkernels/linear.h"

#include <algorithm>

#include "seqkernels/gemm.h"
#include "seqkernels/parallel.h"

namespace sk {

void linear_forward(float* y, const float* x, const float* weight, const float* bias, int64_t M, int64_t N,
                    int64_t K) {
  if (bias) {
    const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 14) / std::max<int64_t>(N, 1));
    parallel_for(M, grain, [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) std::copy(bias, bias + N, y + r * N);
    });
  }
  gemm(y, N, x, K, weight, K, {M, N, K, false, true, 1.0f, bias ? 1.0f : 0.0f});
}

void linear_backward(float* dx, float* dweight, float* dbias, const float* dy, const float* x, const float* weight,
                     int64_t M, int64_t N, int64_t K) {
  if (dx) gemm(dx, K, dy, N, weight, K, {M, K, N, false, false, 1.0f, 0.0f});
  if (dweight) gemm(dweight, K, dy, N, x, K, {N, K, M, true, false, 1.0f, 0.0f});
  if (!dbias) return;
  constexpr int64_t kColumnBlock = 64;  // columns per chunk (threads never share a cache line of dbias)
  const int64_t blocks = (N + kColumnBlock - 1) / kColumnBlock;
  const int64_t grain = std::max<int64_t>(1, (int64_t{1} << 14) / (kColumnBlock * std::max<int64_t>(M, 1)));
  parallel_for(blocks, grain, [&](int64_t b0, int64_t b1) {
    const int64_t c0 = b0 * kColumnBlock, c1 = std::min(N, b1 * kColumnBlock);
    std::fill(dbias + c0, dbias + c1, 0.0f);
    for (int64_t r = 0; r < M; ++r) {
      const float* row = dy + r * N;
#pragma omp simd
      for (int64_t c = c0; c < c1; ++c) dbias[c] += row[c];
    }
  });
}

}  // namespace sk
