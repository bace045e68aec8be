// Fused scaled-dot-product attention (FlashAttention-2 on the CPU), float32, with grouped-query heads.
//
//   q (B, H, Lq, D), k and v (B, Hkv, Lk, D), out (B, H, Lq, D), lse (B, H, Lq); H a multiple of Hkv.
//   out = softmax(q kᵀ · scale + mask) v, row by row, never holding the Lq x Lk matrix.
//
// Grouped-query attention (Hkv < H): query head h reads key/value head h / (H / Hkv) in place (nothing is
// repeated); backward sums dk, dv over the H / Hkv query heads that share each key/value head.
//
// q, k and v are read through element strides over (batch, head, row) with each row's D floats contiguous
// (a key/value cache's first Lk rows, heads sliced out of a fused projection); `row == 0` means C-contiguous.
// out, lse and every gradient are C-contiguous.
//
// The mask is optional and is read through element strides (0 broadcasts a dimension), so a mask that
// is broadcast over batch, heads or query rows is never materialised. The causal mask keeps key j for query
// i when j <= i + shift: shift = 0 top-left aligned (torch's is_causal), shift = Lk - Lq bottom-right aligned
// (the query block is the last Lq positions of the key sequence, as after a key/value cache: torch's
// causal_lower_right). A row whose every key is masked (bottom-right with Lq > Lk: the first Lq - Lk rows)
// gives out = 0 and zero gradients. Dropout (probability dropout_p, in training) zeroes probabilities with a
// counter-based hash of (seed, b, h, i, j) and scales the rest by 1/(1 - p); backward regenerates the same
// mask from the same seed.
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

enum class AttentionCausal { none, top_left, bottom_right };

// Element strides of one of q, k, v over (batch, head, row); row == 0: C-contiguous (B, heads, L, D).
struct AttentionLayout {
  int64_t batch = 0, head = 0, row = 0;
};

struct AttentionParams {
  int64_t batch = 0, heads = 0, kv_heads = 0, len_q = 0, len_k = 0, head_dim = 0;  // kv_heads divides heads
  float scale = 1.0f;
  AttentionCausal causal = AttentionCausal::none;
  AttentionMask mask;
  float dropout_p = 0.0f;  // in [0, 1); 0 disables dropout
  uint64_t seed = 0;
  AttentionLayout q_layout, k_layout, v_layout;
};

// out (B, H, Lq, D); lse (B, H, Lq): each row's log-sum-exp of the masked, scaled scores (+inf for a fully
// masked row, so that backward's recomputed probabilities are exactly 0 there).
// q (B, H, Lq, D), k (B, Hkv, Lk, D), v (B, Hkv, Lk, D).
void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                       const AttentionParams& p);

// dq (B, H, Lq, D), dk (B, Hkv, Lk, D), dv (B, Hkv, Lk, D): overwritten; null for a gradient not wanted.
// dy (B, H, Lq, D) the gradient of out; q, k, v as forward; out (B, H, Lq, D) and lse (B, H, Lq) from forward.
void attention_backward(float* dq, float* dk, float* dv, const float* dy, const float* q, const float* k,
                        const float* v, const float* out, const float* lse, const AttentionParams& p);

}  // namespace sk
