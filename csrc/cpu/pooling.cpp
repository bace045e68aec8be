// 1-D pooling (pooling.h). Each thread owns whole rows. Max pooling with kernel_size == length, stride == length
// and no padding (global max over time, adaptive_max_pool1d(x, 1)) scans each row with reduce.h's vector max.
#include "seqkernels/pooling.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "seqkernels/parallel.h"
#include "seqkernels/reduce.h"

namespace sk {
namespace {

// avg's divisor of the window starting at `start` (torch's rule).
int64_t avg_divisor(const Pool1dShape& s, int64_t start, bool count_include_pad, int64_t divisor_override) {
  if (divisor_override > 0) return divisor_override;
  const int64_t end = std::min(start + s.kernel_size, s.length + s.padding);
  if (count_include_pad) return end - start;
  return std::min(end, s.length) - std::max<int64_t>(start, 0);
}

}  // namespace

void max_pool1d_forward(float* y, int64_t* indices, const float* x, const Pool1dShape& s) {
  if (s.kernel_size == s.length && s.stride >= s.length && s.padding == 0 && s.out_length == 1)
    return max_forward(y, indices, x, {s.rows, s.length, 1});
  parallel_for(s.rows, row_grain(s.out_length * s.kernel_size), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * s.length;
      for (int64_t t = 0; t < s.out_length; ++t) {
        const int64_t start = t * s.stride - s.padding;
        int64_t best = -1;
        float m = -std::numeric_limits<float>::infinity();
        for (int64_t k = 0; k < s.kernel_size; ++k) {
          const int64_t at = start + k * s.dilation;
          if (at < 0 || at >= s.length) continue;
          const float v = xr[at];
          if (best < 0 || v > m || (std::isnan(v) && !std::isnan(m))) {
            m = v;
            best = at;
          }
        }
        y[r * s.out_length + t] = m;
        indices[r * s.out_length + t] = best;
      }
    }
  });
}

void max_pool1d_backward(float* dx, const float* dy, const int64_t* indices, const Pool1dShape& s) {
  parallel_for(s.rows, row_grain(s.length), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* dxr = dx + r * s.length;
      std::fill(dxr, dxr + s.length, 0.0f);
      for (int64_t t = 0; t < s.out_length; ++t) dxr[indices[r * s.out_length + t]] += dy[r * s.out_length + t];
    }
  });
}

void avg_pool1d_forward(float* y, const float* x, const Pool1dShape& s, bool count_include_pad,
                        int64_t divisor_override) {
  parallel_for(s.rows, row_grain(s.out_length * s.kernel_size), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const float* xr = x + r * s.length;
      for (int64_t t = 0; t < s.out_length; ++t) {
        const int64_t start = t * s.stride - s.padding;
        const int64_t lo = std::max<int64_t>(start, 0), hi = std::min(start + s.kernel_size, s.length);
        float sum = 0.0f;
        for (int64_t at = lo; at < hi; ++at) sum += xr[at];
        y[r * s.out_length + t] =
            sum / static_cast<float>(avg_divisor(s, start, count_include_pad, divisor_override));
      }
    }
  });
}

void avg_pool1d_backward(float* dx, const float* dy, const Pool1dShape& s, bool count_include_pad,
                         int64_t divisor_override) {
  parallel_for(s.rows, row_grain(s.length), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      float* dxr = dx + r * s.length;
      std::fill(dxr, dxr + s.length, 0.0f);
      for (int64_t t = 0; t < s.out_length; ++t) {
        const int64_t start = t * s.stride - s.padding;
        const int64_t lo = std::max<int64_t>(start, 0), hi = std::min(start + s.kernel_size, s.length);
        const float share =
            dy[r * s.out_length + t] / static_cast<float>(avg_divisor(s, start, count_include_pad, divisor_override));
        for (int64_t at = lo; at < hi; ++at) dxr[at] += share;
      }
    }
  });
}

}  // namespace sk
