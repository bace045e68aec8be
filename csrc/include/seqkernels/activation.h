// Activations over float32 arrays: GELU (exact and tanh), softmax / log-softmax over the last dimension
// of a (rows, dim) matrix, and dropout with a counter-based random mask. Forward and backward of each.
// Outputs may alias inputs of the same size (element-wise ops) unless noted.
#pragma once
#include <cstdint>

namespace sk {

enum class GeluApproximation { none, tanh };

void gelu_forward(const float* x, float* y, int64_t n, GeluApproximation approximation);
// dx = dy * gelu'(x)
void gelu_backward(const float* dy, const float* x, float* dx, int64_t n, GeluApproximation approximation);

// y[r, :] = softmax(x[r, :]) or log_softmax(x[r, :]); y may alias x.
void softmax_forward(const float* x, float* y, int64_t rows, int64_t dim, bool log);
// From the forward output y: softmax  dx = y * (dy - <dy, y>),  log_softmax  dx = dy - exp(y) * sum(dy).
void softmax_backward(const float* dy, const float* y, float* dx, int64_t rows, int64_t dim, bool log);

// Dropout: element i is kept when uniform(seed, i) >= p and then scaled by 1 / (1 - p). The mask is a pure
// function of (seed, i), so it does not depend on the thread count and backward recomputes it instead of
// storing it. 0 <= p <= 1 (p = 1 zeroes everything). Forward applies the mask to x (out = y), backward to dy (out = dx): the same call.
void dropout(const float* in, float* out, int64_t n, float p, uint64_t seed);

}  // namespace sk
