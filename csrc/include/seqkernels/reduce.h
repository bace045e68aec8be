// Reductions over one dimension of a float32 array, forward and backward. Any dim of a C-contiguous array is
// the middle one of the (outer, dim, inner) view of it: outer = the product of the sizes before the dim,
// inner = after. Every reduction sums or compares in a fixed order, so results do not depend on the thread
// count.
//
//   sum    y[o, i] = Σ_d x[o, d, i]   (mean: / dim)      dx[o, d, i] = dy[o, i]   (mean: / dim)
//   max    y[o, i] = max_d x[o, d, i], index = the first d reaching it (NaN counts as the largest: the first
//          NaN), as torch.max(x, dim)                     dx = dy at the index, 0 elsewhere
//   amax   the same y                                     dx = dy [x = y] / #{d : x = y}  (torch's even split)
#pragma once
#include <cstdint>

namespace sk {

struct ReduceShape {
  int64_t outer = 1, dim = 1, inner = 1;
};

// y (outer, inner) = the sum (mean: the mean) of x (outer, dim, inner) over dim. dim = 0 gives 0 (mean: NaN).
void sum_forward(float* y, const float* x, const ReduceShape& s, bool mean);
// dx (outer, dim, inner) = dy (outer, inner) broadcast over dim (mean: / dim).
void sum_backward(float* dx, const float* dy, const ReduceShape& s, bool mean);

// y (outer, inner) = the max of x (outer, dim, inner) over dim (dim >= 1); indices (outer, inner) the position
// of the first maximum, or null when not wanted (amax).
void max_forward(float* y, int64_t* indices, const float* x, const ReduceShape& s);
// dx (outer, dim, inner) = dy (outer, inner) at indices (outer, inner) from max_forward, 0 elsewhere.
void max_backward(float* dx, const float* dy, const int64_t* indices, const ReduceShape& s);
// dx (outer, dim, inner) = dy [x = y] / (count of d with x[o, d, i] = y[o, i]);  x as forward, y its result.
void amax_backward(float* dx, const float* dy, const float* x, const float* y, const ReduceShape& s);

}  // namespace sk
