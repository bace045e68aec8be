// Fused scaled-dot-product attention (FlashAttention-2 on the CPU), float32.
//
//   q (B, H, Lq, D), k and v (B, H, Lk, D), out (B, H, Lq, D), all C-contiguous.
//   out = softmax(q kᵀ · scale + mask) v, row by row, never holding the Lq x Lk matrix.
//
// The mask is optional and is read through element strides (0 broadcasts a dimension), so a mask that
// is broadcast over batch, heads or query rows is never materialised. A causal mask keeps key j for
// query i when j <= i (top-left aligned, as torch's is_causal when Lq != Lk). A row whose every key is
// masked gives out = 0 and zero gradients. Dropout (probability dropout_p, in training) zeroes
// probabilities with a counter-based hash of (seed, b, h, i, j) and scales the rest by 1/(1 - p);
// backward regenerates the same mask from the same seed.
//
// Extra memory: per thread, tiles and the packed key/value blocks of one head (O(Lk·D)); backward adds one
// float per query row (B·H·Lq). Nothing of size Lq x Lk is ever allocated.
#pragma once
#include <cstdint>

namespace sk {

struct AttentionMask {
  enum class Kind { none, boolean, additive };
  Kind kind = Kind::none;
  // boolean: uint8, nonzero = attend; additive: float32, added to the scaled scores.
  const void* data = nullptr;
  // Element strides over (batch, head, query row, key column); 0 broadcasts.
  int64_t stride_b = 0, stride_h = 0, stride_q = 0, stride_k = 0;
};

struct AttentionParams {
  int64_t batch = 0, heads = 0, len_q = 0, len_k = 0, head_dim = 0;
  float scale = 1.0f;
  bool causal = false;
  AttentionMask mask;
  float dropout_p = 0.0f;  // in [0, 1); 0 disables dropout
  uint64_t seed = 0;
};

// out (B, H, Lq, D) and the per-row log-sum-exp of the masked, scaled scores lse (B, H, Lq)
// (+inf for a fully masked row, so that backward's recomputed probabilities are exactly 0 there).
void attention_forward(const AttentionParams& p, const float* q, const float* k, const float* v, float* out,
                       float* lse);

// Gradients dq, dk, dv (the shapes of q, k, v; overwritten) from dout, given forward's out and lse.
void attention_backward(const AttentionParams& p, const float* q, const float* k, const float* v, const float* out,
                        const float* lse, const float* dout, float* dq, float* dk, float* dv);

}  // namespace sk
