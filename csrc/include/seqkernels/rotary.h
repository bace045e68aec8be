// Rotary position embedding (RoPE, Su et al. 2021) over (tokens, heads, head_dim) float32 rows.
//
// Pair i < R/2 of a head (R = rotary_dim <= head_dim, even) turns by the angle p · θ^(-2i/R), p the token's
// position:  (a, b) -> (a cos - b sin, b cos + a sin). Dimensions from R on pass through unchanged.
//   half-split (Llama / GPT-NeoX, Hugging Face's rotate_half):  a = x[i], b = x[i + R/2]
//   interleaved (GPT-J, llama.cpp's LLAMA_ROPE_TYPE_NORM on GGUF's permuted q/k):  a = x[2i], b = x[2i + 1]
// The backward pass is the inverse rotation (the same call with the negated angle).
#pragma once
#include <cstdint>

namespace sk {

struct RotarySizes {
  int64_t tokens = 0, heads = 0, head_dim = 0, rotary_dim = 0;
  int64_t ld = 0;  // floats between tokens' rows (>= heads · head_dim), the same for y and x
  float theta = 10000.0f;
  bool interleaved = false;
};

// y, x: tokens rows of `heads` heads of head_dim floats, ld apart; positions (tokens). y may alias x.
void rotary_forward(float* y, const float* x, const int64_t* positions, const RotarySizes& sizes);
// dx from dy: rotation by the negated angles. dx may alias dy.
void rotary_backward(float* dx, const float* dy, const int64_t* positions, const RotarySizes& sizes);

}  // namespace sk
