// RMS normalisation, forward and backward.
//
// Forward, per row x of length D:  rstd = 1 / sqrt(sum(x^2) / D + eps),  xhat = x · rstd,  y = xhat · w.
// Backward, with g = dy · w (g = dy without weight):
//   dx = rstd · (g - xhat · mean(g · xhat)),   dw = sum_rows dy · xhat.
// dw: each thread sums its contiguous block of rows into a private buffer, the buffers are added in
// thread order (deterministic at a given thread count), as layer_norm does.
#include "seqkernels/rms_norm.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "seqkernels/parallel.h"

namespace sk {

void rms_norm_forward(float* y, float* rstd, const float* x, const float* weight, const RmsNormSizes& sizes) {
  const int64_t dim = sizes.dim;
  parallel_for(sizes.rows, row_grain(dim), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * dim;
      float* yr = y + r * dim;
      float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
      for (int64_t j = 0; j < dim; ++j) ss += xr[j] * xr[j];
      const float rs = 1.0f / std::sqrt(ss / static_cast<float>(dim) + sizes.eps);
      if (rstd) rstd[r] = rs;
      if (weight) {
#pragma omp simd
        for (int64_t j = 0; j < dim; ++j) yr[j] = xr[j] * rs * weight[j];
      } else {
#pragma omp simd
        for (int64_t j = 0; j < dim; ++j) yr[j] = xr[j] * rs;
      }
    }
  });
}

void rms_norm_backward(float* dx, float* dweight, const float* dy, const float* x, const float* rstd,
                       const float* weight, const RmsNormSizes& sizes) {
  const int64_t rows = sizes.rows, dim = sizes.dim;
  const int threads = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(num_threads(), rows / row_grain(dim))));
  std::vector<float> partial(dweight ? static_cast<size_t>(threads) * dim : 0, 0.0f);
  parallel_region(threads, [&](int t, int count) {
    const int64_t r0 = rows * t / count, r1 = rows * (t + 1) / count;
    float* pw = dweight ? partial.data() + static_cast<size_t>(t) * dim : nullptr;
    for (int64_t r = r0; r < r1; ++r) {
      const float *xr = x + r * dim, *gr = dy + r * dim;
      float* dxr = dx + r * dim;
      const float rs = rstd[r];
      float sum_gx = 0.0f;
#pragma omp simd reduction(+ : sum_gx)
      for (int64_t j = 0; j < dim; ++j) sum_gx += (weight ? gr[j] * weight[j] : gr[j]) * xr[j];
      const float mean_gx = sum_gx * rs / static_cast<float>(dim);  // mean(g · xhat)
#pragma omp simd
      for (int64_t j = 0; j < dim; ++j) {
        const float xhat = xr[j] * rs;
        dxr[j] = rs * ((weight ? gr[j] * weight[j] : gr[j]) - xhat * mean_gx);
      }
      if (pw) {
#pragma omp simd
        for (int64_t j = 0; j < dim; ++j) pw[j] += gr[j] * xr[j] * rs;
      }
    }
  });
  if (!dweight) return;
  for (int64_t j = 0; j < dim; ++j) {
    float w = 0.0f;
    for (int t = 0; t < threads; ++t) w += partial[static_cast<size_t>(t) * dim + j];
    dweight[j] = w;
  }
}

}  // namespace sk
