// Layer normalisation over the last dimension, forward and backward.
//
// Forward, per row x of length D (two passes over a row that stays in cache, so large means do not
// cancel catastrophically as a one-pass E[x^2] - E[x]^2 would):
//   mean = sum(x) / D,  var = sum((x - mean)^2) / D,  rstd = 1 / sqrt(var + eps),
//   xhat = (x - mean) * rstd,  y = xhat * w + b.
// Backward, with g = dy * w (g = dy without weight):
//   dx = rstd * (g - mean(g) - xhat * mean(g * xhat)),
//   dw = sum_rows dy * xhat,  db = sum_rows dy.
// dw and db: each thread sums its own contiguous block of rows into a private buffer; the buffers are
// then added in thread order, so the result is deterministic.
#include "seqkernels/norm.h"

#include <cmath>
#include <vector>

#include "seqkernels/parallel.h"

namespace sk {

void layer_norm_forward(float* y, float* mean, float* rstd, const float* x, const float* weight, const float* bias,
                        int64_t rows, int64_t dim, float eps) {
  parallel_for(rows, row_grain(dim), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * dim;
      float* yr = y + r * dim;
      float s = 0.0f;
#pragma omp simd reduction(+ : s)
      for (int64_t j = 0; j < dim; ++j) s += xr[j];
      const float mu = s / static_cast<float>(dim);
      float ss = 0.0f;
#pragma omp simd reduction(+ : ss)
      for (int64_t j = 0; j < dim; ++j) ss += (xr[j] - mu) * (xr[j] - mu);
      const float rs = 1.0f / std::sqrt(ss / static_cast<float>(dim) + eps);
      mean[r] = mu;
      rstd[r] = rs;
#pragma omp simd
      for (int64_t j = 0; j < dim; ++j) {
        float v = (xr[j] - mu) * rs;  // the weight / bias tests are loop-invariant (unswitched)
        if (weight) v *= weight[j];
        if (bias) v += bias[j];
        yr[j] = v;
      }
    }
  });
}

namespace {

// dx for rows [r0, r1), and (kReduce) their dy * xhat and dy column sums added into pw / pb. Templated
// on the options so each loop body is branch-free and vectorises.
template <bool kWeight, bool kReduce>
void layer_norm_backward_rows(const float* __restrict dy, const float* __restrict x, const float* __restrict weight,
                              const float* mean, const float* rstd, float* __restrict dx, float* __restrict pw,
                              float* __restrict pb, int64_t r0, int64_t r1, int64_t dim) {
  for (int64_t r = r0; r < r1; ++r) {
    const float* __restrict xr = x + r * dim;
    const float* __restrict gr = dy + r * dim;
    float* __restrict dxr = dx + r * dim;
    const float mu = mean[r], rs = rstd[r];
    float sum_g = 0.0f, sum_gx = 0.0f;
#pragma omp simd reduction(+ : sum_g, sum_gx)
    for (int64_t j = 0; j < dim; ++j) {
      const float g = kWeight ? gr[j] * weight[j] : gr[j];
      sum_g += g;
      sum_gx += g * (xr[j] - mu);
    }
    const float mean_g = sum_g / static_cast<float>(dim), mean_gx = sum_gx * rs / static_cast<float>(dim);
#pragma omp simd
    for (int64_t j = 0; j < dim; ++j) {
      const float xhat = (xr[j] - mu) * rs;
      const float g = kWeight ? gr[j] * weight[j] : gr[j];
      dxr[j] = rs * (g - mean_g - xhat * mean_gx);
      if (kReduce) {
        pw[j] += gr[j] * xhat;
        pb[j] += gr[j];
      }
    }
  }
}

}  // namespace

void layer_norm_backward(float* dx, float* dweight, float* dbias, const float* dy, const float* x, const float* mean,
                         const float* rstd, const float* weight, int64_t rows, int64_t dim) {
  const bool reduce = dweight || dbias;
  const int threads = static_cast<int>(std::max<int64_t>(1, std::min<int64_t>(num_threads(), rows / row_grain(dim))));
  // Per-thread partial sums: [thread][0..dim) for dweight, then [dim..2 dim) for dbias.
  std::vector<float> partial(reduce ? static_cast<size_t>(threads) * 2 * dim : 0, 0.0f);
  parallel_region(threads, [&](int t, int count) {
    const int64_t r0 = rows * t / count, r1 = rows * (t + 1) / count;
    float* pw = reduce ? partial.data() + static_cast<size_t>(t) * 2 * dim : nullptr;
    float* pb = reduce ? pw + dim : nullptr;
    if (weight && reduce)
      layer_norm_backward_rows<true, true>(dy, x, weight, mean, rstd, dx, pw, pb, r0, r1, dim);
    else if (weight)
      layer_norm_backward_rows<true, false>(dy, x, weight, mean, rstd, dx, pw, pb, r0, r1, dim);
    else if (reduce)
      layer_norm_backward_rows<false, true>(dy, x, weight, mean, rstd, dx, pw, pb, r0, r1, dim);
    else
      layer_norm_backward_rows<false, false>(dy, x, weight, mean, rstd, dx, pw, pb, r0, r1, dim);
  });
  if (!reduce) return;
  parallel_for(dim, kElementGrain, [&](int64_t j0, int64_t j1) {
    for (int64_t j = j0; j < j1; ++j) {
      float w = 0.0f, b = 0.0f;
      for (int t = 0; t < threads; ++t) {
        w += partial[static_cast<size_t>(t) * 2 * dim + j];
        b += partial[static_cast<size_t>(t) * 2 * dim + dim + j];
      }
      if (dweight) dweight[j] = w;
      if (dbias) dbias[j] = b;
    }
  });
}

}  // namespace sk
