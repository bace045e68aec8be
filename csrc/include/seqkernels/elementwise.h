// Element-wise float32 math: unary functions and the broadcasting binary arithmetic, forward and backward.
//
// Unary (y = f(x), n elements; y may alias x):
//   relu        max(x, 0)                           dx = dy [y > 0]
//   tanh        tanh x                              dx = dy (1 - y²)
//   sigmoid     1 / (1 + e^-x)                      dx = dy y (1 - y)
//   silu        x σ(x)                              dx = dy σ(x) (1 + x (1 - σ(x)))
//   softplus    log(1 + e^(βx)) / β, x if βx > t    dx = dy σ(βx), dy if βx > t       (β = beta, t = threshold)
//   leaky_relu  x if x > 0 else a x                 dx = dy if x > 0 else a dy        (a = alpha)
//   elu         x if x > 0 else a (e^x - 1)         dx = dy if x > 0 else a dy e^x    (a = alpha)
//   exp         e^x                                 dx = dy y
//   log         ln x                                dx = dy / x
// NaN propagates as in torch. Backward reads y (relu, tanh, sigmoid, exp) or x (the others); the argument it
// does not read may be null.
//
// Binary (y = a ∘ b with numpy/torch broadcasting, ∘ one of + - * /): a and b are C-contiguous with shapes that
// broadcast to y's; backward sums each operand's gradient over the dimensions it was broadcast along
// (da = Σ dy ∂y/∂a back to a's shape), in a fixed order, so results do not depend on the thread count.
#pragma once
#include <cstdint>

namespace sk {

enum class UnaryOp { relu, tanh, sigmoid, silu, softplus, leaky_relu, elu, exp, log };

struct UnaryParams {
  float alpha = 0.01f;      // leaky_relu's negative slope, elu's alpha
  float beta = 1.0f;        // softplus
  float threshold = 20.0f;  // softplus: linear where beta x > threshold
};

// y (n) = f(x (n)).
void unary_forward(float* y, const float* x, int64_t n, UnaryOp op, const UnaryParams& params);
// dx (n) from dy (n) and forward's x (n) or y (n), whichever `op` reads (the other may be null).
void unary_backward(float* dx, const float* dy, const float* x, const float* y, int64_t n, UnaryOp op,
                    const UnaryParams& params);

enum class BinaryOp { add, sub, mul, div };

constexpr int kMaxBroadcastDims = 8;

// y's shape and the operands' shapes over the same dims (right-aligned, padded with leading 1s): each
// a[d], b[d] is y[d] or 1. make_broadcast builds it from numpy-style shapes, merging adjacent dims that
// broadcast alike; it returns false when the shapes do not broadcast or need more than kMaxBroadcastDims dims.
struct Broadcast {
  int ndim = 0;
  int64_t y[kMaxBroadcastDims], a[kMaxBroadcastDims], b[kMaxBroadcastDims];
  int64_t size() const;    // elements of y
  int64_t a_size() const;  // elements of a
  int64_t b_size() const;  // elements of b
};
bool make_broadcast(Broadcast& out, const int64_t* a_shape, int a_ndim, const int64_t* b_shape, int b_ndim);

// y (shape y) = a (shape a) ∘ b (shape b).
void binary_forward(float* y, const float* a, const float* b, BinaryOp op, const Broadcast& s);
// da (shape a), db (shape b): each null when not wanted; dy (shape y); a, b as forward (add and sub read
// neither, mul reads the other operand, div both).
void binary_backward(float* da, float* db, const float* dy, const float* a, const float* b, BinaryOp op,
                     const Broadcast& s);

}  // namespace sk
