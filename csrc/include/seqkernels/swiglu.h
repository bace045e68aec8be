// The fused SwiGLU gate of Llama's feed-forward block, forward and backward (plain SiLU: elementwise.h).
//   silu(x) = x · σ(x),  σ(x) = 1 / (1 + e^-x);   swiglu(g, u) = silu(g) · u.
#pragma once
#include <cstdint>

namespace sk {

struct SwigluSizes {
  int64_t rows = 0, dim = 0;
  int64_t ld_gate = 0, ld_up = 0;  // row strides of gate and up (>= dim): both may be halves of one matrix
};

// y (rows, dim) = silu(gate) · up; gate, up (rows, dim) with row strides ld_gate, ld_up.
void swiglu_forward(float* y, const float* gate, const float* up, const SwigluSizes& sizes);
// dgate = dy · up · silu'(gate), dup = dy · silu(gate); dy, dgate, dup dense (rows, dim).
void swiglu_backward(float* dgate, float* dup, const float* dy, const float* gate, const float* up,
                     const SwigluSizes& sizes);

}  // namespace sk
