// Fused attention, FlashAttention-2 style, for one (batch, head) at a time:
//
//   S = q kᵀ · scale + mask            (Lq x Lk; masked entries are -inf; never stored whole)
//   P = softmax_rows(S),  lse_i = log Σ_j exp S_ij
//   P̃ = P ∘ Z / (1 - p)                (Z the 0/1 dropout mask; P̃ = P without dropout)
//   out = P̃ v
//
// Forward walks a block of query rows over blocks of keys with an online softmax: per row it keeps the
// running max m and sum l, and when a key block raises the max it rescales the partial output by
// exp(m_old - m_new). At the end out /= l and lse = m + log l (+inf for a fully masked row: its output
// is 0, and every probability recomputed from it below is exactly 0).
//
// Backward, with dout given and Δ_i = Σ_d dout_id out_id  (= Σ_j P_ij dP_ij, dropout included):
//
//   P_ij  = exp(S_ij - lse_i)          recomputed tile by tile from q, k and lse
//   dv   += P̃ᵀ dout
//   dP̃    = dout vᵀ,   dP = dP̃ ∘ Z / (1 - p)
//   dS    = P ∘ (dP - Δ)
//   dk   += scale · dSᵀ q
//   dq   += scale · dS k
//
// Grouped-query attention: query head h of batch b reads key/value head kv = b·Hkv + h / G (G = H / Hkv) in
// place; dk and dv of a key/value head sum the contributions of its G query heads in a fixed order.
//
// Work is split so that every output element is written by one thread in a fixed order (deterministic,
// no atomics): when there are at least as many (batch, key/value head) pairs as threads, each thread owns
// whole key/value heads with their G query heads and does all five products per tile once; otherwise a
// first pass owns key blocks (dk, dv) and a second owns query blocks (dq), each recomputing P. Both
// accumulate dq over key blocks, and dk, dv over query heads then query blocks, in the same order, so they
// give identical results.
//
// Every tile product reads its right operand (a block of K, V, q or dout) packed once per thread and head
// (gemm_pack_b), not re-packed for each tile.
#include "seqkernels/attention.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "seqkernels/gemm.h"
#include "scratch.h"
#include "seqkernels/parallel.h"
#include "simd_math.h"

namespace sk {
namespace {

using V = simd::Vec;
constexpr int64_t kBlockQ = 128;   // query rows per tile
constexpr int64_t kBlockK = 128;   // keys per tile (also the leading dimension of every tile buffer)
constexpr float kInf = std::numeric_limits<float>::infinity();

int64_t blocks(int64_t n, int64_t block) { return (n + block - 1) / block; }

// Dropout: key j of query i in head bh is kept when the high 32 bits of a SplitMix64-style hash of
// (seed, flat index) reach `threshold` = p · 2^32.
struct Dropout {
  bool active;
  uint64_t seed, threshold;
  float keep_scale;  // 1 / (1 - p)
  explicit Dropout(const AttentionParams& p)
      : active(p.dropout_p > 0.0f),
        seed(p.seed),
        threshold(static_cast<uint64_t>(static_cast<double>(p.dropout_p) * 4294967296.0)),
        keep_scale(1.0f / (1.0f - p.dropout_p)) {}
  bool keeps(uint64_t index) const {
    uint64_t x = seed + (index + 1) * 0x9E3779B97F4A7C15ull;
    x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
    x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
    x ^= x >> 31;
    return (x >> 32) >= threshold;
  }
};

// The strides of q, k, v with C-contiguous ones filled in.
AttentionLayout resolved(const AttentionLayout& layout, int64_t heads, int64_t rows, int64_t D) {
  if (layout.row != 0) return layout;
  return {heads * rows * D, rows * D, D};
}

// One query head (b, h) and its key/value head: pointers to their first rows, row strides, mask offset.
struct Head {
  int64_t b, h, index, kv_index;  // index = b * H + h, kv_index = b * Hkv + h / G
  const float *q, *k, *v;
  int64_t ldq, ldk, ldv;
};

struct Layouts {
  AttentionLayout q, k, v;
  explicit Layouts(const AttentionParams& p)
      : q(resolved(p.q_layout, p.heads, p.len_q, p.head_dim)),
        k(resolved(p.k_layout, p.kv_heads, p.len_k, p.head_dim)),
        v(resolved(p.v_layout, p.kv_heads, p.len_k, p.head_dim)) {}
};

Head head_at(const AttentionParams& p, const Layouts& lay, int64_t bh, const float* q, const float* k,
             const float* v) {
  const int64_t b = bh / p.heads, h = bh % p.heads, hk = h / (p.heads / p.kv_heads);
  return {b, h, bh, b * p.kv_heads + hk,
          q + b * lay.q.batch + h * lay.q.head, k + b * lay.k.batch + hk * lay.k.head,
          v + b * lay.v.batch + hk * lay.v.head, lay.q.row, lay.k.row, lay.v.row};
}

// Query i keeps key j when j <= i + shift (causal); shift = Lk - Lq aligns the mask bottom-right.
int64_t causal_shift(const AttentionParams& p) {
  return p.causal == AttentionCausal::bottom_right ? p.len_k - p.len_q : 0;
}

// The blocks of one head's matrices that serve as the right operand of a tile product, packed for the GEMM
// (gemm_pack_b) on first use and reused by every tile this thread computes with them: key blocks as Kᵀ
// (S = q kᵀ), V (out += P v), Vᵀ (dP = dout vᵀ) and K (dq += dS k); query blocks as q (dk += dSᵀ q) and
// dout (dv += P̃ᵀ dout). Storage is O((Lq + Lk) · D) per thread. Blocks are packed whole (a key block holds
// min(kBlockK, Lk - j0) keys), so every product over a block spans its whole width. Each operand remembers
// the head it holds (key-side operands a key/value head, query-side ones a query head), so the G query
// heads of a key/value head reuse its packed keys and values.
class PackedBlocks {
 public:
  enum Operand { kKeysT, kValues, kValuesT, kKeys, kQueries, kGradOut, kOperands };

  // The block of `op` starting at row r0 of `source` (that head's rows of D floats, `ld` floats apart).
  const float* get(const AttentionParams& p, int64_t head, Operand op, int64_t r0, const float* source,
                   int64_t ld) {
    const int64_t D = p.head_dim;
    const bool query_side = op == kQueries || op == kGradOut, transposed = op == kKeysT || op == kValuesT;
    const int64_t block = query_side ? kBlockQ : kBlockK, total = query_side ? p.len_q : p.len_k;
    const int64_t index = r0 / block, rows = std::min(block, total - r0);
    if (head != head_[op]) {
      head_[op] = head;
      valid_[op].clear();
    }
    const int64_t stride = transposed ? gemm_packed_b_size(D, block) : gemm_packed_b_size(block, D);
    if (base_[op] == nullptr) {
      storage_[op].resize(static_cast<size_t>(blocks(total, block) * stride + 16));
      const auto address = reinterpret_cast<uintptr_t>(storage_[op].data());
      base_[op] = reinterpret_cast<float*>((address + 63) & ~uintptr_t{63});  // 64-byte aligned panels
    }
    if (valid_[op].empty()) valid_[op].assign(static_cast<size_t>(blocks(total, block)), 0);
    float* dst = base_[op] + index * stride;
    if (!valid_[op][index]) {
      if (transposed)
        gemm_pack_b(dst, source + r0 * ld, ld, true, D, rows);
      else
        gemm_pack_b(dst, source + r0 * ld, ld, false, rows, D);
      valid_[op][index] = 1;
    }
    return dst;
  }

 private:
  int64_t head_[kOperands] = {-1, -1, -1, -1, -1, -1};
  std::vector<float> storage_[kOperands];
  float* base_[kOperands] = {};
  std::vector<char> valid_[kOperands];
};

// Per-thread tile buffers, each kBlockQ x kBlockK with leading dimension kBlockK.
struct Tiles {
  std::vector<float> s, ds, keep;
  std::vector<float> m, l;
  PackedBlocks packs;
  Tiles() : s(kBlockQ * kBlockK), ds(kBlockQ * kBlockK), keep(kBlockQ * kBlockK), m(kBlockQ), l(kBlockQ) {}
};

// A tile of queries [i0, i0 + rows) and keys [j0, ...) has unmasked entries under the causal mask.
bool tile_visible(const AttentionParams& p, int64_t i0, int64_t rows, int64_t j0) {
  return p.causal == AttentionCausal::none || j0 < i0 + rows + causal_shift(p);
}

// Keys a query block attends to: [0, key_end) (empty when key_end <= 0).
int64_t key_end(const AttentionParams& p, int64_t i0, int64_t rows) {
  return p.causal == AttentionCausal::none ? p.len_k : std::min(p.len_k, i0 + rows + causal_shift(p));
}

// Adds the mask to the scores row[0, cols) of query i against keys [j0, j0 + cols): masked entries -inf.
void mask_row(const AttentionParams& p, const Head& hd, int64_t i, int64_t j0, int64_t cols, float* row) {
  const AttentionMask& mk = p.mask;
  if (mk.kind != AttentionMask::Kind::none) {
    const int64_t offset = hd.b * mk.stride_b + hd.h * mk.stride_h + j0 * mk.stride_k + i * mk.stride_q;
    if (mk.kind == AttentionMask::Kind::boolean) {
      const uint8_t* allowed = static_cast<const uint8_t*>(mk.data) + offset;
      for (int64_t c = 0; c < cols; ++c)
        if (!allowed[c * mk.stride_k]) row[c] = -kInf;
    } else {
      const float* add = static_cast<const float*>(mk.data) + offset;
      for (int64_t c = 0; c < cols; ++c) row[c] += add[c * mk.stride_k];
    }
  }
  if (p.causal != AttentionCausal::none) {
    const int64_t first_masked = std::max<int64_t>(0, i + 1 + causal_shift(p) - j0);
    std::fill(row + std::min(first_masked, cols), row + cols, -kInf);
  }
}

// s[r][c] = scale · q_{i0+r} · k_{j0+c} + mask, with masked entries -inf.
void scores_tile(const AttentionParams& p, const Head& hd, int64_t i0, int64_t rows, int64_t j0, int64_t cols,
                 float* s, PackedBlocks& packs) {
  const int64_t D = p.head_dim;
  const float* keys_t = packs.get(p, hd.kv_index, PackedBlocks::kKeysT, j0, hd.k, hd.ldk);
  gemm_prepacked_b(s, kBlockK, hd.q + i0 * hd.ldq, hd.ldq, keys_t, {rows, cols, D, false, false, p.scale, 0.0f});
  for (int64_t r = 0; r < rows; ++r) mask_row(p, hd, i0 + r, j0, cols, s + r * kBlockK);
}

// keep[r][c] = 1/(1-p) or 0: the dropout factor of each entry of the tile.
void dropout_tile(const AttentionParams& p, const Dropout& dropout, const Head& hd, int64_t i0, int64_t rows,
                  int64_t j0, int64_t cols, float* keep) {
  const Dropout d = dropout;  // a local copy: stores to keep cannot alias it, so the loop vectorises
  for (int64_t r = 0; r < rows; ++r) {
    const uint64_t base = static_cast<uint64_t>((hd.index * p.len_q + i0 + r) * p.len_k + j0);
    float* keep_row = keep + r * kBlockK;
#pragma omp simd
    for (int64_t c = 0; c < cols; ++c) keep_row[c] = d.keeps(base + static_cast<uint64_t>(c)) ? d.keep_scale : 0.0f;
  }
}

// x[c] = exp(x[c] - shift) for c < n; returns the sum. The tail goes through the same vector exp.
float exp_shifted_sum(float* x, int64_t n, float shift) {
  const V::T vshift = V::set1(shift);
  V::T acc = V::zero();
  int64_t c = 0;
  for (; c + V::W <= n; c += V::W) {
    const V::T e = simd::exp(simd::sub(V::loadu(x + c), vshift));
    V::storeu(x + c, e);
    acc = V::add(acc, e);
  }
  if (c < n) {
    alignas(64) float tail[V::W];
    std::fill(tail, tail + V::W, -kInf);
    std::copy(x + c, x + n, tail);
    const V::T e = simd::exp(simd::sub(V::loadu(tail), vshift));
    V::storeu(tail, e);
    std::copy(tail, tail + (n - c), x + c);
    acc = V::add(acc, e);
  }
  return V::reduce_add(acc);
}

void scale_row(float* x, int64_t n, float factor) {
  const V::T f = V::set1(factor);
  int64_t c = 0;
  for (; c + V::W <= n; c += V::W) V::storeu(x + c, V::mul(V::loadu(x + c), f));
  for (; c < n; ++c) x[c] *= factor;
}

float dot(const float* a, const float* b, int64_t n) {
  V::T acc = V::zero();
  int64_t c = 0;
  for (; c + V::W <= n; c += V::W) acc = V::fmadd(V::loadu(a + c), V::loadu(b + c), acc);
  float s = V::reduce_add(acc);
  for (; c < n; ++c) s += a[c] * b[c];
  return s;
}

// Forward for query rows [i0, i0 + rows) of one head: writes their out rows and lse.
void forward_block(const AttentionParams& p, const Dropout& dropout, const Head& hd, int64_t i0, int64_t rows,
                   float* out, float* lse, Tiles& t) {
  const int64_t D = p.head_dim;
  float* o = out + i0 * D;
  std::fill(o, o + rows * D, 0.0f);
  std::fill(t.m.begin(), t.m.end(), -kInf);
  std::fill(t.l.begin(), t.l.end(), 0.0f);
  const int64_t end = key_end(p, i0, rows);
  for (int64_t j0 = 0; j0 < end; j0 += kBlockK) {
    const int64_t cols = std::min(kBlockK, p.len_k - j0);  // whole blocks, as the packed operands hold
    float* s = t.s.data();
    scores_tile(p, hd, i0, rows, j0, cols, s, t.packs);
    for (int64_t r = 0; r < rows; ++r) {
      float* row = s + r * kBlockK;
      const float m_new = std::max(t.m[r], simd::row_max(row, cols));
      if (m_new == -kInf) {  // nothing unmasked in this row yet (or only NaN scores, which poison l)
        if (std::any_of(row, row + cols, [](float x) { return std::isnan(x); }))
          t.l[r] = std::numeric_limits<float>::quiet_NaN();
        std::fill(row, row + cols, 0.0f);
        continue;
      }
      const float rescale = std::exp(t.m[r] - m_new);
      t.l[r] = t.l[r] * rescale + exp_shifted_sum(row, cols, m_new);
      t.m[r] = m_new;
      if (rescale != 1.0f) scale_row(o + r * D, D, rescale);
    }
    if (dropout.active) {
      dropout_tile(p, dropout, hd, i0, rows, j0, cols, t.keep.data());
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) s[r * kBlockK + c] *= t.keep[r * kBlockK + c];
    }
    const float* values = t.packs.get(p, hd.kv_index, PackedBlocks::kValues, j0, hd.v, hd.ldv);
    gemm_prepacked_b(o, D, s, kBlockK, values, {rows, D, cols, false, false, 1.0f, 1.0f});
  }
  for (int64_t r = 0; r < rows; ++r) {
    if (t.l[r] == 0.0f) {  // fully masked row
      std::fill(o + r * D, o + (r + 1) * D, 0.0f);
      lse[i0 + r] = kInf;
    } else {
      scale_row(o + r * D, D, 1.0f / t.l[r]);
      lse[i0 + r] = t.m[r] + std::log(t.l[r]);
    }
  }
}

// Gradient inputs of one head, offset to that head.
struct HeadGrad {
  const float *dout, *lse, *delta;
};

// Backward for the tile (queries [i0, i0+rows), keys [j0, j0+cols)): adds its share to the dq rows, and to
// the dk / dv rows, of those that are non-null (each already offset to the tile's first row).
void backward_tile(const AttentionParams& p, const Dropout& dropout, const Head& hd, const HeadGrad& g, int64_t i0,
                   int64_t rows, int64_t j0, int64_t cols, float* dq, float* dk, float* dv, Tiles& t) {
  const int64_t D = p.head_dim;
  float *s = t.s.data(), *ds = t.ds.data(), *keep = t.keep.data();
  const float* dout = g.dout + i0 * D;
  scores_tile(p, hd, i0, rows, j0, cols, s, t.packs);
  for (int64_t r = 0; r < rows; ++r) {  // s = P; a fully masked row (lse = +inf) has P = 0 exactly
    float* row = s + r * kBlockK;
    if (g.lse[i0 + r] == kInf)
      std::fill(row, row + cols, 0.0f);
    else
      exp_shifted_sum(row, cols, g.lse[i0 + r]);
  }
  if (dropout.active) dropout_tile(p, dropout, hd, i0, rows, j0, cols, keep);
  if (dv) {
    const float* dropped = s;  // P̃
    if (dropout.active) {
      for (int64_t r = 0; r < rows; ++r)
        for (int64_t c = 0; c < cols; ++c) ds[r * kBlockK + c] = s[r * kBlockK + c] * keep[r * kBlockK + c];
      dropped = ds;
    }
    const float* grad_out = t.packs.get(p, hd.index, PackedBlocks::kGradOut, i0, g.dout, D);
    gemm_prepacked_b(dv, D, dropped, kBlockK, grad_out, {cols, D, rows, true, false, 1.0f, 1.0f});
  }
  const float* values_t = t.packs.get(p, hd.kv_index, PackedBlocks::kValuesT, j0, hd.v, hd.ldv);
  gemm_prepacked_b(ds, kBlockK, dout, D, values_t, {rows, cols, D, false, false, 1.0f, 0.0f});  // dP̃
  for (int64_t r = 0; r < rows; ++r) {
    const float delta = g.delta[i0 + r];
    float *dsr = ds + r * kBlockK, *pr = s + r * kBlockK;
    if (dropout.active) {
      const float* kr = keep + r * kBlockK;
      for (int64_t c = 0; c < cols; ++c) dsr[c] = pr[c] * (dsr[c] * kr[c] - delta);
    } else {
      for (int64_t c = 0; c < cols; ++c) dsr[c] = pr[c] * (dsr[c] - delta);
    }
  }
  if (dk) {
    const float* queries = t.packs.get(p, hd.index, PackedBlocks::kQueries, i0, hd.q, hd.ldq);
    gemm_prepacked_b(dk, D, ds, kBlockK, queries, {cols, D, rows, true, false, p.scale, 1.0f});
  }
  if (dq) {
    const float* keys = t.packs.get(p, hd.kv_index, PackedBlocks::kKeys, j0, hd.k, hd.ldk);
    gemm_prepacked_b(dq, D, ds, kBlockK, keys, {rows, D, cols, false, false, p.scale, 1.0f});
  }
}

// Rows of the cache read this far ahead of use (prefetches never fault, so past the end is harmless).
constexpr int64_t kRowsAhead = 8;

void prefetch_row(const float* row, int64_t n) {
  for (int64_t i = 0; i < n; i += 16) __builtin_prefetch(row + i);
}

// o[0 .. C W) += Σ_j w_j v_j[0 .. C W) for j < n (rows of v ldv apart), accumulated in registers.
template <int C>
void accumulate_values(float* o, const float* w, const float* v, int64_t ldv, int64_t n) {
  V::T acc[C];
  for (int c = 0; c < C; ++c) acc[c] = V::loadu(o + c * V::W);
  for (int64_t j = 0; j < n; ++j) {
    if (C * V::W * sizeof(float) >= 64) prefetch_row(v + (j + kRowsAhead) * ldv, C * V::W);
    const V::T wj = V::set1(w[j]);
    for (int c = 0; c < C; ++c) acc[c] = V::fmadd(wj, V::loadu(v + j * ldv + c * V::W), acc[c]);
  }
  for (int c = 0; c < C; ++c) V::storeu(o + c * V::W, acc[c]);
}

// Forward for one query row i of a head when there are few query rows (decoding against a cache): its
// scores s_j = scale q·k_j + mask (j < key_end) are dot products with the keys read in place, into s
// (len_k floats), and out = Σ_j exp(s_j - m) z_j v_j / l with m = max s, l = Σ_j exp(s_j - m), the values
// read in place — no packed operands and no tiles, whose set-up costs more than such a row's products.
void forward_row(const AttentionParams& p, const Dropout& dropout, const Head& hd, int64_t i, float* o, float* lse,
                 float* s) {
  const int64_t D = p.head_dim, n = std::max<int64_t>(0, key_end(p, i, 1));
  const float* q = hd.q + i * hd.ldq;
  std::fill(o, o + D, 0.0f);
  for (int64_t j = 0; j < n; ++j) {  // the cache's rows prefetched ahead (they come from DRAM in a decode step)
    prefetch_row(hd.k + (j + kRowsAhead) * hd.ldk, D);
    s[j] = p.scale * dot(q, hd.k + j * hd.ldk, D);
  }
  mask_row(p, hd, i, 0, n, s);
  const float m = n ? simd::row_max(s, n) : -kInf;
  if (m == -kInf) {  // fully masked (NaN scores poison the row, as in forward_block)
    const bool nan = std::any_of(s, s + n, [](float x) { return std::isnan(x); });
    if (nan) std::fill(o, o + D, std::numeric_limits<float>::quiet_NaN());
    *lse = nan ? std::numeric_limits<float>::quiet_NaN() : kInf;
    return;
  }
  const float l = exp_shifted_sum(s, n, m);
  if (dropout.active) {
    float* keep = s + p.len_k;
    dropout_tile(p, dropout, hd, i, 1, 0, n, keep);
    for (int64_t j = 0; j < n; ++j) s[j] *= keep[j];
  }
  int64_t d = 0;  // o += s_j v_j for j = 0, 1, ...: up to 4 vectors of o held in registers over all j
  for (; d + 4 * V::W <= D; d += 4 * V::W) accumulate_values<4>(o + d, s, hd.v + d, hd.ldv, n);
  for (; d + V::W <= D; d += V::W) accumulate_values<1>(o + d, s, hd.v + d, hd.ldv, n);
  for (; d < D; ++d)
    for (int64_t j = 0; j < n; ++j) o[d] += s[j] * hd.v[j * hd.ldv + d];
  scale_row(o, D, 1.0f / l);
  *lse = m + std::log(l);
}

// Up to this many query rows per head take forward_row.
constexpr int64_t kRowPathMaxQueries = 4;

}  // namespace

void attention_forward(float* out, float* lse, const float* q, const float* k, const float* v,
                       const AttentionParams& p) {
  const int64_t heads = p.batch * p.heads, q_blocks = blocks(p.len_q, kBlockQ);
  const Dropout dropout(p);
  const Layouts lay(p);
  if (p.len_q <= kRowPathMaxQueries) {
    parallel_for(heads * p.len_q, 1, [&](int64_t begin, int64_t end) {
      float* s = thread_scratch(ScratchPurpose::attention_scores, 2 * p.len_k);  // scores, dropout factors
      for (int64_t item = begin; item < end; ++item) {
        const int64_t bh = item / p.len_q, i = item % p.len_q;
        forward_row(p, dropout, head_at(p, lay, bh, q, k, v), i, out + (bh * p.len_q + i) * p.head_dim,
                    lse + item, s);
      }
    });
    return;
  }
  parallel_for(heads * q_blocks, 1, [&](int64_t begin, int64_t end) {
    Tiles t;
    for (int64_t item = begin; item < end; ++item) {
      const int64_t bh = item / q_blocks, i0 = item % q_blocks * kBlockQ;
      const Head hd = head_at(p, lay, bh, q, k, v);
      forward_block(p, dropout, hd, i0, std::min(kBlockQ, p.len_q - i0), out + bh * p.len_q * p.head_dim,
                    lse + bh * p.len_q, t);
    }
  });
}

void attention_backward(float* dq, float* dk, float* dv, const float* dy, const float* q, const float* k,
                        const float* v, const float* out, const float* lse, const AttentionParams& p) {
  const int64_t D = p.head_dim, heads = p.batch * p.heads, kv_heads = p.batch * p.kv_heads;
  const int64_t group = p.heads / p.kv_heads;
  const int64_t q_blocks = blocks(p.len_q, kBlockQ), k_blocks = blocks(p.len_k, kBlockK);
  const Dropout dropout(p);
  const Layouts lay(p);
  std::vector<float> delta(static_cast<size_t>(heads * p.len_q));
  parallel_for(heads * p.len_q, 256, [&](int64_t begin, int64_t end) {
    for (int64_t row = begin; row < end; ++row) delta[row] = dot(dy + row * D, out + row * D, D);
  });
  auto grads_of = [&](int64_t bh) {
    return HeadGrad{dy + bh * p.len_q * D, lse + bh * p.len_q, delta.data() + bh * p.len_q};
  };
  // Query head g of key/value head kvh (b = kvh / Hkv).
  auto query_head = [&](int64_t kvh, int64_t g) { return kvh / p.kv_heads * p.heads + kvh % p.kv_heads * group + g; };
  auto rows_in = [&](int64_t i0) { return std::min(kBlockQ, p.len_q - i0); };
  auto cols_in = [&](int64_t j0) { return std::min(kBlockK, p.len_k - j0); };
  auto offset = [](float* base, int64_t at) { return base ? base + at : nullptr; };
  auto zero = [](float* x, int64_t n) {
    if (x) std::fill(x, x + n, 0.0f);
  };

  if (kv_heads >= num_threads()) {  // each thread owns whole key/value heads: dq, dk and dv in one sweep
    parallel_for(kv_heads, 1, [&](int64_t begin, int64_t end) {
      Tiles t;
      for (int64_t kvh = begin; kvh < end; ++kvh) {
        float *dk_h = offset(dk, kvh * p.len_k * D), *dv_h = offset(dv, kvh * p.len_k * D);
        zero(dk_h, p.len_k * D);
        zero(dv_h, p.len_k * D);
        for (int64_t g = 0; g < group; ++g) {
          const int64_t bh = query_head(kvh, g);
          const Head hd = head_at(p, lay, bh, q, k, v);
          const HeadGrad gr = grads_of(bh);
          float* dq_h = offset(dq, bh * p.len_q * D);
          zero(dq_h, p.len_q * D);
          for (int64_t j0 = 0; j0 < p.len_k; j0 += kBlockK)
            for (int64_t i0 = 0; i0 < p.len_q; i0 += kBlockQ)
              if (tile_visible(p, i0, rows_in(i0), j0))
                backward_tile(p, dropout, hd, gr, i0, rows_in(i0), j0, cols_in(j0), offset(dq_h, i0 * D),
                              offset(dk_h, j0 * D), offset(dv_h, j0 * D), t);
        }
      }
    });
    return;
  }
  // Few heads: split each key/value head's keys (dk, dv), then each query head's queries (dq), over the threads.
  if (dk || dv)
    parallel_for(kv_heads * k_blocks, 1, [&](int64_t begin, int64_t end) {
      Tiles t;
      for (int64_t item = begin; item < end; ++item) {
        const int64_t kvh = item / k_blocks, j0 = item % k_blocks * kBlockK;
        float *dk_b = offset(dk, (kvh * p.len_k + j0) * D), *dv_b = offset(dv, (kvh * p.len_k + j0) * D);
        zero(dk_b, cols_in(j0) * D);
        zero(dv_b, cols_in(j0) * D);
        for (int64_t g = 0; g < group; ++g) {
          const int64_t bh = query_head(kvh, g);
          const Head hd = head_at(p, lay, bh, q, k, v);
          for (int64_t i0 = 0; i0 < p.len_q; i0 += kBlockQ)
            if (tile_visible(p, i0, rows_in(i0), j0))
              backward_tile(p, dropout, hd, grads_of(bh), i0, rows_in(i0), j0, cols_in(j0), nullptr, dk_b, dv_b,
                            t);
        }
      }
    });
  if (dq)
    parallel_for(heads * q_blocks, 1, [&](int64_t begin, int64_t end) {
      Tiles t;
      for (int64_t item = begin; item < end; ++item) {
        const int64_t bh = item / q_blocks, i0 = item % q_blocks * kBlockQ;
        const Head hd = head_at(p, lay, bh, q, k, v);
        float* dq_b = dq + (bh * p.len_q + i0) * D;
        std::fill(dq_b, dq_b + rows_in(i0) * D, 0.0f);
        for (int64_t j0 = 0; j0 < key_end(p, i0, rows_in(i0)); j0 += kBlockK)
          backward_tile(p, dropout, hd, grads_of(bh), i0, rows_in(i0), j0, cols_in(j0), dq_b, nullptr, nullptr,
                        t);
      }
    });
}

}  // namespace sk
