// Element-wise kernels (elementwise.h): unary functions over a flat range split into chunks over the threads,
// and broadcasting binary arithmetic over rows of y's innermost dimension.
//
// Binary forward: y is walked row by row (its last dim), each row's operand offsets from an odometer over the
// outer dims; within a row each operand has stride 1 (its last dim is y's) or 0 (broadcast), so the four
// row loops are plain vector loops.
// Binary backward: the operand's gradient is dy ∂y/∂operand, then summed over the dims the operand was
// broadcast along: one pass per run of broadcast dims, innermost first (sum_middle of reduce.h on
// (before, run, after)), each pass deterministic.
#include "seqkernels/elementwise.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "scratch.h"
#include "seqkernels/parallel.h"
#include "seqkernels/reduce.h"
#include "simd_math.h"

namespace sk {
namespace {

using simd::V;
using simd::Vec;

template <class Fn>
void parallel_map(float* y, const float* x, int64_t n, Fn fn) {
  parallel_for(n, kElementGrain, [&](int64_t b, int64_t e) { simd::map(x + b, y + b, e - b, fn); });
}

template <class Fn>
void parallel_map2(float* y, const float* a, const float* c, int64_t n, Fn fn) {
  parallel_for(n, kElementGrain, [&](int64_t b, int64_t e) { simd::map2(a + b, c + b, y + b, e - b, fn); });
}

inline V one() { return Vec::set1(1.0f); }
inline V greater_than_zero(V x, V if_positive, V otherwise) {  // x > 0 ? if_positive : otherwise (NaN: otherwise)
  return simd::select_less(Vec::zero(), x, if_positive, otherwise);
}

// log(1 + e) for 0 <= e <= 1 without a general log: 2 atanh(s), s = e / (2 + e) in [0, 1/3], as the odd series
// 2 (s + s³/3 + ... + s¹⁵/15) (truncation below 2e-9 relative).
inline V log1p_unit(V e) {
  const V s = simd::div(e, Vec::add(Vec::set1(2.0f), e)), z = Vec::mul(s, s);
  V p = Vec::set1(1.0f / 15);
  p = Vec::fmadd(p, z, Vec::set1(1.0f / 13));
  p = Vec::fmadd(p, z, Vec::set1(1.0f / 11));
  p = Vec::fmadd(p, z, Vec::set1(1.0f / 9));
  p = Vec::fmadd(p, z, Vec::set1(1.0f / 7));
  p = Vec::fmadd(p, z, Vec::set1(1.0f / 5));
  p = Vec::fmadd(p, z, Vec::set1(1.0f / 3));
  p = Vec::fmadd(p, z, one());
  return Vec::mul(Vec::set1(2.0f), Vec::mul(s, p));
}

// softplus(z) = max(z, 0) + log(1 + e^-|z|).
inline V softplus_unit(V z) {
  return Vec::add(simd::max_nan(Vec::zero(), z), log1p_unit(simd::exp(simd::sub(Vec::zero(), simd::abs(z)))));
}

}  // namespace

void unary_forward(float* y, const float* x, int64_t n, UnaryOp op, const UnaryParams& p) {
  const V alpha = Vec::set1(p.alpha), beta = Vec::set1(p.beta), inv_beta = Vec::set1(1.0f / p.beta),
          threshold = Vec::set1(p.threshold);
  switch (op) {
    case UnaryOp::relu:
      return parallel_map(y, x, n, [](V v) { return simd::max_nan(Vec::zero(), v); });
    case UnaryOp::tanh:
      return parallel_map(y, x, n, [](V v) { return simd::tanh(v); });
    case UnaryOp::sigmoid:
      return parallel_map(y, x, n, [](V v) { return simd::sigmoid(v); });
    case UnaryOp::silu:
      return parallel_map(y, x, n, [](V v) { return simd::silu(v); });
    case UnaryOp::softplus:
      return parallel_map(y, x, n, [&](V v) {
        const V bx = Vec::mul(beta, v);
        return simd::select_less(threshold, bx, v, Vec::mul(softplus_unit(bx), inv_beta));
      });
    case UnaryOp::leaky_relu:
      return parallel_map(y, x, n, [&](V v) { return greater_than_zero(v, v, Vec::mul(alpha, v)); });
    case UnaryOp::elu:
      return parallel_map(y, x, n, [&](V v) {
        return greater_than_zero(v, v, Vec::mul(alpha, simd::sub(simd::exp(v), one())));
      });
    case UnaryOp::exp:
      return parallel_map(y, x, n, [](V v) { return simd::exp(v); });
    case UnaryOp::log:  // no vector log in simd_math.h: the C library's, element by element
      return parallel_for(n, kElementGrain, [&](int64_t b, int64_t e) {
        for (int64_t i = b; i < e; ++i) y[i] = std::log(x[i]);
      });
  }
}

void unary_backward(float* dx, const float* dy, const float* x, const float* y, int64_t n, UnaryOp op,
                    const UnaryParams& p) {
  const V alpha = Vec::set1(p.alpha), beta = Vec::set1(p.beta), threshold = Vec::set1(p.threshold);
  switch (op) {
    case UnaryOp::relu:
      return parallel_map2(dx, dy, y, n, [](V g, V out) { return greater_than_zero(out, g, Vec::zero()); });
    case UnaryOp::tanh:
      return parallel_map2(dx, dy, y, n, [](V g, V t) { return Vec::mul(g, simd::sub(one(), Vec::mul(t, t))); });
    case UnaryOp::sigmoid:
      return parallel_map2(dx, dy, y, n, [](V g, V s) { return Vec::mul(g, Vec::mul(s, simd::sub(one(), s))); });
    case UnaryOp::silu:
      return parallel_map2(dx, dy, x, n, [](V g, V v) { return Vec::mul(g, simd::silu_grad(v)); });
    case UnaryOp::softplus:
      return parallel_map2(dx, dy, x, n, [&](V g, V v) {
        const V bx = Vec::mul(beta, v);
        return simd::select_less(threshold, bx, g, Vec::mul(g, simd::sigmoid(bx)));
      });
    case UnaryOp::leaky_relu:
      return parallel_map2(dx, dy, x, n, [&](V g, V v) { return greater_than_zero(v, g, Vec::mul(alpha, g)); });
    case UnaryOp::elu:
      return parallel_map2(dx, dy, x, n,
                           [&](V g, V v) { return greater_than_zero(v, g, Vec::mul(Vec::mul(alpha, g), simd::exp(v))); });
    case UnaryOp::exp:
      return parallel_map2(dx, dy, y, n, [](V g, V e) { return Vec::mul(g, e); });
    case UnaryOp::log:
      return parallel_map2(dx, dy, x, n, [](V g, V v) { return simd::div(g, v); });
  }
}

// ---- broadcasting binary arithmetic -------------------------------------------------------------------------

int64_t Broadcast::size() const {
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) n *= y[d];
  return n;
}
int64_t Broadcast::a_size() const {
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) n *= a[d];
  return n;
}
int64_t Broadcast::b_size() const {
  int64_t n = 1;
  for (int d = 0; d < ndim; ++d) n *= b[d];
  return n;
}

bool make_broadcast(Broadcast& out, const int64_t* a_shape, int a_ndim, const int64_t* b_shape, int b_ndim) {
  const int ndim = std::max(a_ndim, b_ndim);
  out.ndim = 0;
  bool empty = false;
  int prev_kind = -1;  // which of a, b are full along the previous kept dim (bit 0: a, bit 1: b)
  for (int d = 0; d < ndim; ++d) {
    const int64_t ad = d < ndim - a_ndim ? 1 : a_shape[d - (ndim - a_ndim)];
    const int64_t bd = d < ndim - b_ndim ? 1 : b_shape[d - (ndim - b_ndim)];
    if (ad != bd && ad != 1 && bd != 1) return false;
    const int64_t yd = ad == 1 ? bd : ad;
    if (yd == 0) empty = true;
    if (yd == 1) continue;  // size-1 dims carry nothing
    const int kind = (ad == yd ? 1 : 0) | (bd == yd ? 2 : 0);
    if (kind == prev_kind) {  // merge with the previous dim: both operands broadcast alike along the two
      const int k = out.ndim - 1;
      out.y[k] *= yd;
      out.a[k] *= ad;
      out.b[k] *= bd;
      continue;
    }
    if (out.ndim == kMaxBroadcastDims) return false;
    out.y[out.ndim] = yd;
    out.a[out.ndim] = ad;
    out.b[out.ndim] = bd;
    ++out.ndim;
    prev_kind = kind;
  }
  if (empty) {  // an empty result: one dim of size 0, the operands' sizes kept for their (empty or zero) gradients
    int64_t a_total = 1, b_total = 1;
    for (int d = 0; d < a_ndim; ++d) a_total *= a_shape[d];
    for (int d = 0; d < b_ndim; ++d) b_total *= b_shape[d];
    out.ndim = 1;
    out.y[0] = 0;
    out.a[0] = a_total;
    out.b[0] = b_total;
    return true;
  }
  if (out.ndim == 0) {  // scalars
    out.ndim = 1;
    out.y[0] = out.a[0] = out.b[0] = 1;
  }
  return true;
}

namespace {

// Walks y's rows (all dims but the last) from a starting row, keeping each operand's offset.
struct RowCursor {
  const Broadcast& s;
  int64_t index[kMaxBroadcastDims] = {};
  int64_t a_stride[kMaxBroadcastDims], b_stride[kMaxBroadcastDims];
  int64_t a_off = 0, b_off = 0;

  RowCursor(const Broadcast& shape, int64_t row) : s(shape) {
    int64_t as = 1, bs = 1;
    for (int d = s.ndim - 1; d >= 0; --d) {
      a_stride[d] = s.a[d] == 1 ? 0 : as;
      b_stride[d] = s.b[d] == 1 ? 0 : bs;
      as *= s.a[d];
      bs *= s.b[d];
    }
    for (int d = s.ndim - 2; d >= 0; --d) {
      index[d] = row % s.y[d];
      row /= s.y[d];
      a_off += index[d] * a_stride[d];
      b_off += index[d] * b_stride[d];
    }
  }
  void next() {
    for (int d = s.ndim - 2; d >= 0; --d) {
      a_off += a_stride[d];
      b_off += b_stride[d];
      if (++index[d] < s.y[d]) return;
      a_off -= index[d] * a_stride[d];
      b_off -= index[d] * b_stride[d];
      index[d] = 0;
    }
  }
};

// out[i] = fn(g[i], a[i or 0], b[i or 0]) over one row of n: a and b each run along the row (AF, BF) or are one
// value for the whole row; g (read when G) runs along it. The tail goes through the same vector code.
template <bool G, bool AF, bool BF, class Fn>
void row_apply(float* out, const float* g, const float* a, const float* b, int64_t n, Fn& fn) {
  const V a0 = Vec::set1(*a), b0 = Vec::set1(*b);
  int64_t i = 0;
  for (; i + Vec::W <= n; i += Vec::W)
    Vec::storeu(out + i, fn(G ? Vec::loadu(g + i) : Vec::zero(), AF ? Vec::loadu(a + i) : a0,
                            BF ? Vec::loadu(b + i) : b0));
  if (i == n) return;
  float gb[Vec::W] = {}, ab[Vec::W] = {}, bb[Vec::W] = {}, ob[Vec::W];
  const size_t rest = static_cast<size_t>(n - i) * sizeof(float);
  if (G) std::memcpy(gb, g + i, rest);
  if (AF) std::memcpy(ab, a + i, rest);
  if (BF) std::memcpy(bb, b + i, rest);
  Vec::storeu(ob, fn(Vec::loadu(gb), AF ? Vec::loadu(ab) : a0, BF ? Vec::loadu(bb) : b0));
  std::memcpy(out + i, ob, rest);
}

// out (y's shape) = fn(g, a, b) with a and b broadcast and g (when G) of y's shape.
template <bool G, class Fn>
void broadcast_apply(float* out, const float* g, const float* a, const float* b, const Broadcast& s, Fn fn) {
  const int last = s.ndim - 1;
  const int64_t n = s.y[last];
  if (n == 0) return;
  const int64_t rows = s.size() / n;
  auto run = [&](auto a_full, auto b_full) {
    parallel_for(rows, row_grain(n), [&](int64_t r0, int64_t r1) {
      RowCursor cur(s, r0);
      for (int64_t r = r0; r < r1; ++r, cur.next())
        row_apply<G, decltype(a_full)::value, decltype(b_full)::value>(out + r * n, G ? g + r * n : nullptr,
                                                                       a + cur.a_off, b + cur.b_off, n, fn);
    });
  };
  const bool af = s.a[last] == n, bf = s.b[last] == n;
  if (af && bf) run(std::true_type{}, std::true_type{});
  else if (af) run(std::true_type{}, std::false_type{});
  else if (bf) run(std::false_type{}, std::true_type{});
  else run(std::false_type{}, std::false_type{});
}

// out (the operand's shape) = full (y's shape) summed over the dims where the operand has size 1, one pass per
// run of such dims, innermost first; `work` holds y's size in floats for the intermediate sums (each pass
// alternates between its two halves: a pass's output is at most half its input).
void sum_to_operand(float* out, const float* full, const Broadcast& s, const int64_t* shape, float* work) {
  int64_t dims[kMaxBroadcastDims];
  bool reduced[kMaxBroadcastDims];
  int k = 0, runs = 0;
  int64_t total = 1;
  for (int d = 0; d < s.ndim; ++d) {
    const bool r = shape[d] == 1 && s.y[d] != 1;
    total *= s.y[d];
    if (k > 0 && reduced[k - 1] == r) {
      dims[k - 1] *= s.y[d];
    } else {
      dims[k] = s.y[d];
      reduced[k++] = r;
      runs += r;
    }
  }
  float* halves[2] = {work, work + (total + 1) / 2};
  const float* src = full;
  for (int d = k - 1, pass = 0; d >= 0; --d) {
    if (!reduced[d]) continue;
    int64_t before = 1, after = 1;
    for (int e = 0; e < d; ++e) before *= dims[e];
    for (int e = d + 1; e < k; ++e) after *= dims[e];
    float* dst = --runs == 0 ? out : halves[pass++ % 2];
    sum_forward(dst, src, {before, dims[d], after}, false);
    dims[d] = 1;
    src = dst;
  }
}

bool is_full(const Broadcast& s, const int64_t* shape) {
  for (int d = 0; d < s.ndim; ++d)
    if (shape[d] != s.y[d]) return false;
  return true;
}

// One operand's gradient, out (its shape): dy scaled by `sign` and summed over the operand's broadcast dims.
void gradient_of_dy(float* out, const int64_t* shape, int64_t size, const float* dy, const Broadcast& s, float sign) {
  if (is_full(s, shape)) {
    parallel_for(size, kElementGrain, [&](int64_t b0, int64_t b1) {
      for (int64_t i = b0; i < b1; ++i) out[i] = sign * dy[i];
    });
    return;
  }
  sum_to_operand(out, dy, s, shape, thread_scratch(ScratchPurpose::elementwise_gradient, s.size()));
  if (sign != 1.0f)
    for (int64_t i = 0; i < size; ++i) out[i] *= sign;
}

// One operand's gradient, out (its shape): term(dy, a, b) over y's shape, summed over the operand's broadcast dims.
template <class Term>
void gradient_of_term(float* out, const int64_t* shape, const float* dy, const float* a, const float* b,
                      const Broadcast& s, Term term) {
  if (is_full(s, shape)) return broadcast_apply<true>(out, dy, a, b, s, term);
  const int64_t n = s.size();
  float* scratch = thread_scratch(ScratchPurpose::elementwise_gradient, 2 * n);
  broadcast_apply<true>(scratch, dy, a, b, s, term);
  sum_to_operand(out, scratch, s, shape, scratch + n);
}

}  // namespace

void binary_forward(float* y, const float* a, const float* b, BinaryOp op, const Broadcast& s) {
  switch (op) {
    case BinaryOp::add: return broadcast_apply<false>(y, nullptr, a, b, s, [](V, V u, V w) { return Vec::add(u, w); });
    case BinaryOp::sub: return broadcast_apply<false>(y, nullptr, a, b, s, [](V, V u, V w) { return simd::sub(u, w); });
    case BinaryOp::mul: return broadcast_apply<false>(y, nullptr, a, b, s, [](V, V u, V w) { return Vec::mul(u, w); });
    case BinaryOp::div: return broadcast_apply<false>(y, nullptr, a, b, s, [](V, V u, V w) { return simd::div(u, w); });
  }
}

void binary_backward(float* da, float* db, const float* dy, const float* a, const float* b, BinaryOp op,
                     const Broadcast& s) {
  if (s.size() == 0) {  // nothing flows back: an operand broadcast along an empty dim gets zeros
    if (da) std::fill(da, da + s.a_size(), 0.0f);
    if (db) std::fill(db, db + s.b_size(), 0.0f);
    return;
  }
  switch (op) {
    case BinaryOp::add:
    case BinaryOp::sub:
      if (da) gradient_of_dy(da, s.a, s.a_size(), dy, s, 1.0f);
      if (db) gradient_of_dy(db, s.b, s.b_size(), dy, s, op == BinaryOp::sub ? -1.0f : 1.0f);
      return;
    case BinaryOp::mul:  // da = dy b, db = dy a
      if (da) gradient_of_term(da, s.a, dy, a, b, s, [](V g, V, V w) { return Vec::mul(g, w); });
      if (db) gradient_of_term(db, s.b, dy, a, b, s, [](V g, V u, V) { return Vec::mul(g, u); });
      return;
    case BinaryOp::div:  // da = dy / b, db = -(dy / b)(a / b)
      if (da) gradient_of_term(da, s.a, dy, a, b, s, [](V g, V, V w) { return simd::div(g, w); });
      if (db)
        gradient_of_term(db, s.b, dy, a, b, s, [](V g, V u, V w) {
          return simd::sub(Vec::zero(), Vec::mul(simd::div(g, w), simd::div(u, w)));
        });
      return;
  }
}

}  // namespace sk
