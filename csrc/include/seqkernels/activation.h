// Activations over float32 arrays: GELU (exact and tanh), softmax / log-softmax over any dimension, and dropout with a counter-based random mask. Forward and backward of each.
// Outputs may alias inputs of the same size (element-wise ops) unless noted.
#pragma once
#include <cstdint>

namespace sk {

enum class GeluApproximation { none, tanh };

// y (n) = gelu(x (n)).
void gelu_forward(float* y, const float* x, int64_t n, GeluApproximation approximation);
// dx (n) = dy * gelu'(x);  dy, x (n).
void gelu_backward(float* dx, const float* dy, const float* x, int64_t n, GeluApproximation approximation);

// y (outer, dim, inner) = softmax or log_softmax of x (outer, dim, inner) over its middle dim (any dim of a
// C-contiguous array: outer = the sizes before it, inner = after); y may alias x.
void softmax_forward(float* y, const float* x, int64_t outer, int64_t dim, int64_t inner, bool log);
// dx (outer, dim, inner) from dy and forward's output y (outer, dim, inner): softmax  dx = y * (dy - <dy, y>),
// log_softmax  dx = dy - exp(y) * sum(dy), the sums over dim.
void softmax_backward(float* dx, const float* dy, const float* y, int64_t outer, int64_t dim, int64_t inner,
                      bool log);

// Dropout: element i is kept when uniform(seed, i) >= p and then scaled by 1 / (1 - p). The mask is a pure
// function of (seed, i), so it does not depend on the thread count and backward recomputes it instead of
// storing it. 0 <= p <= 1 (p = 1 zeroes everything). y (n) = mask(x (n)); backward is the same call on
// (dx, dy).
void dropout(float* y, const float* x, int64_t n, float p, uint64_t seed);

}  // namespace sk
