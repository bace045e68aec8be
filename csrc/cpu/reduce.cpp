// Reductions over the middle dim of an (outer, dim, inner) view (reduce.h).
//
// inner == 1 (the last dim): each row is summed in fixed chunks of kChunk floats, each chunk with four vector
// accumulators, and the chunk sums added in order, so a row's sum is the same whichever thread computes it and
// however many threads there are; chunks of all rows are spread over the threads. max scans a row with vector
// compares, then looks for the first position of the maximum (a row holding NaN or inf takes the exact scalar
// rule instead).
// inner > 1: threads own blocks of kColumns columns of y and add (or compare) the dim rows of their block in order.
#include "seqkernels/reduce.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <vector>

#include "seqkernels/parallel.h"
#include "simd_math.h"

namespace sk {
namespace {

using simd::V;
using simd::Vec;

constexpr int64_t kChunk = 1 << 14;  // floats per partial sum of a long row
constexpr int64_t kColumns = 256;    // columns per block when inner > 1

int64_t blocks(int64_t n, int64_t b) { return (n + b - 1) / b; }

// Σ x[0..n), four vector accumulators, the tail added last.
float chunk_sum(const float* x, int64_t n) {
  V a0 = Vec::zero(), a1 = Vec::zero(), a2 = Vec::zero(), a3 = Vec::zero();
  int64_t i = 0;
  for (; i + 4 * Vec::W <= n; i += 4 * Vec::W) {
    a0 = Vec::add(a0, Vec::loadu(x + i));
    a1 = Vec::add(a1, Vec::loadu(x + i + Vec::W));
    a2 = Vec::add(a2, Vec::loadu(x + i + 2 * Vec::W));
    a3 = Vec::add(a3, Vec::loadu(x + i + 3 * Vec::W));
  }
  for (; i + Vec::W <= n; i += Vec::W) a0 = Vec::add(a0, Vec::loadu(x + i));
  float s = Vec::reduce_add(Vec::add(Vec::add(a0, a1), Vec::add(a2, a3)));
  for (; i < n; ++i) s += x[i];
  return s;
}

void row_sums(float* y, const float* x, int64_t rows, int64_t n, float scale) {
  const int64_t chunks = std::max<int64_t>(1, blocks(n, kChunk));
  if (chunks == 1) {
    parallel_for(rows, row_grain(n), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) y[r] = chunk_sum(x + r * n, n) * scale;
    });
    return;
  }
  std::vector<float> partial(static_cast<size_t>(rows * chunks));
  parallel_for(rows * chunks, 1, [&](int64_t b, int64_t e) {
    for (int64_t item = b; item < e; ++item) {
      const int64_t r = item / chunks, c = item % chunks, begin = c * kChunk;
      partial[item] = chunk_sum(x + r * n + begin, std::min(kChunk, n - begin));
    }
  });
  for (int64_t r = 0; r < rows; ++r) {
    float s = 0.0f;
    for (int64_t c = 0; c < chunks; ++c) s += partial[r * chunks + c];
    y[r] = s * scale;
  }
}

// Work items of the inner > 1 paths: (outer row, block of kColumns columns).
template <class Fn>
void for_column_blocks(const ReduceShape& s, Fn fn) {
  const int64_t per_row = blocks(s.inner, kColumns);
  const int64_t grain = std::max<int64_t>(1, kElementGrain / std::max<int64_t>(s.dim * std::min(kColumns, s.inner), 1));
  parallel_for(s.outer * per_row, grain, [&](int64_t b, int64_t e) {
    for (int64_t item = b; item < e; ++item) {
      const int64_t o = item / per_row, c0 = item % per_row * kColumns;
      fn(o, c0, std::min(s.inner, c0 + kColumns));
    }
  });
}

inline bool greater(float v, float m) { return v > m || (std::isnan(v) && !std::isnan(m)); }

// The first maximum of x[0..n) (n >= 1) as torch: NaN is the largest.
int64_t first_max(const float* x, int64_t n) {
  // Vector pass: the largest non-NaN value, and x·0 summed (NaN when the row holds NaN or ±inf).
  V m = Vec::set1(-std::numeric_limits<float>::infinity()), poison = Vec::zero();
  int64_t i = 0;
  for (; i + Vec::W <= n; i += Vec::W) {
    const V v = Vec::loadu(x + i);
    m = simd::select_less(m, v, v, m);
    poison = Vec::fmadd(v, Vec::zero(), poison);
  }
  float lanes[Vec::W], best = -std::numeric_limits<float>::infinity();
  Vec::storeu(lanes, m);
  for (int l = 0; l < Vec::W; ++l) best = std::max(best, lanes[l]);
  bool exact = std::isnan(Vec::reduce_add(poison));
  for (int64_t j = i; j < n; ++j) {
    if (!std::isfinite(x[j])) exact = true;
    best = std::max(best, x[j]);
  }
  if (!exact) {
    for (int64_t j = 0; j < n; ++j)
      if (x[j] == best) return j;
  }
  int64_t at = 0;
  for (int64_t j = 1; j < n; ++j)
    if (greater(x[j], x[at])) at = j;
  return at;
}

}  // namespace

void sum_forward(float* y, const float* x, const ReduceShape& s, bool mean) {
  const float scale = mean ? 1.0f / static_cast<float>(s.dim) : 1.0f;
  if (s.dim == 0) {
    std::fill(y, y + s.outer * s.inner, mean ? std::numeric_limits<float>::quiet_NaN() : 0.0f);
    return;
  }
  if (s.inner == 1) return row_sums(y, x, s.outer, s.dim, scale);
  for_column_blocks(s, [&](int64_t o, int64_t c0, int64_t c1) {
    float* yr = y + o * s.inner;
    const float* xo = x + o * s.dim * s.inner;
    std::copy(xo + c0, xo + c1, yr + c0);
    for (int64_t d = 1; d < s.dim; ++d) {
      const float* xr = xo + d * s.inner;
#pragma omp simd
      for (int64_t c = c0; c < c1; ++c) yr[c] += xr[c];
    }
    if (mean)
      for (int64_t c = c0; c < c1; ++c) yr[c] *= scale;
  });
}

void sum_backward(float* dx, const float* dy, const ReduceShape& s, bool mean) {
  const float scale = mean ? 1.0f / static_cast<float>(s.dim) : 1.0f;
  parallel_for(s.outer * s.dim, row_grain(s.inner), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* g = dy + r / s.dim * s.inner;
      float* out = dx + r * s.inner;
      for (int64_t c = 0; c < s.inner; ++c) out[c] = g[c] * scale;
    }
  });
}

void max_forward(float* y, int64_t* indices, const float* x, const ReduceShape& s) {
  if (s.inner == 1) {
    parallel_for(s.outer, row_grain(s.dim), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const int64_t at = first_max(x + r * s.dim, s.dim);
        y[r] = x[r * s.dim + at];
        if (indices) indices[r] = at;
      }
    });
    return;
  }
  for_column_blocks(s, [&](int64_t o, int64_t c0, int64_t c1) {
    float* yr = y + o * s.inner;
    int64_t* ir = indices ? indices + o * s.inner : nullptr;
    const float* xo = x + o * s.dim * s.inner;
    std::copy(xo + c0, xo + c1, yr + c0);
    if (ir) std::fill(ir + c0, ir + c1, 0);
    for (int64_t d = 1; d < s.dim; ++d) {
      const float* xr = xo + d * s.inner;
      for (int64_t c = c0; c < c1; ++c)
        if (greater(xr[c], yr[c])) {
          yr[c] = xr[c];
          if (ir) ir[c] = d;
        }
    }
  });
}

void max_backward(float* dx, const float* dy, const int64_t* indices, const ReduceShape& s) {
  parallel_for(s.outer, row_grain(s.dim * s.inner), [&](int64_t o0, int64_t o1) {
    for (int64_t o = o0; o < o1; ++o) {
      float* out = dx + o * s.dim * s.inner;
      std::fill(out, out + s.dim * s.inner, 0.0f);
      for (int64_t c = 0; c < s.inner; ++c) out[indices[o * s.inner + c] * s.inner + c] = dy[o * s.inner + c];
    }
  });
}

void amax_backward(float* dx, const float* dy, const float* x, const float* y, const ReduceShape& s) {
  parallel_for(s.outer, row_grain(s.dim * s.inner), [&](int64_t o0, int64_t o1) {
    std::vector<float> share(static_cast<size_t>(s.inner));
    for (int64_t o = o0; o < o1; ++o) {
      const float* xo = x + o * s.dim * s.inner;
      const float *yo = y + o * s.inner, *go = dy + o * s.inner;
      float* out = dx + o * s.dim * s.inner;
      std::fill(share.begin(), share.end(), 0.0f);
      for (int64_t d = 0; d < s.dim; ++d)
        for (int64_t c = 0; c < s.inner; ++c) share[c] += xo[d * s.inner + c] == yo[c] ? 1.0f : 0.0f;
      for (int64_t c = 0; c < s.inner; ++c) share[c] = share[c] > 0.0f ? go[c] / share[c] : 0.0f;
      for (int64_t d = 0; d < s.dim; ++d)
        for (int64_t c = 0; c < s.inner; ++c) out[d * s.inner + c] = xo[d * s.inner + c] == yo[c] ? share[c] : 0.0f;
    }
  });
}

}  // namespace sk
