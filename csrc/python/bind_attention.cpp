// _C.attention_forward / _C.attention_backward: fused scaled-dot-product attention on numpy arrays
// (the kernel is documented in seqkernels/attention.h).
#include <pybind11/stl.h>

#include <algorithm>
#include <cmath>
#include <optional>
#include <string>

#include "binding_utils.h"
#include "seqkernels/attention.h"

namespace sk::bind {
namespace {

// The validated operands of one call; `mask` keeps the mask array alive while the kernel reads it.
struct Problem {
  py::array q, k, v;
  py::array mask;
  AttentionParams params;
};

// A 4-D float32 operand read in place when it is aligned, each row's D floats are contiguous and the other
// strides are whole, non-negative elements (a key/value cache's prefix, heads of a fused projection); copied
// otherwise.
py::array strided_operand(py::handle obj, const char* op, const char* arg, AttentionLayout& layout) {
  py::array a = require_float32(obj, op, arg);
  check_ndim(a, 4, op, arg);
  const int64_t item = static_cast<int64_t>(sizeof(float));
  bool in_place = is_aligned(a) && (a.shape(3) <= 1 || a.strides(3) == item);
  int64_t strides[3];
  for (int d = 0; d < 3 && in_place; ++d) {
    strides[d] = a.shape(d) <= 1 ? 0 : a.strides(d) / item;
    in_place = a.shape(d) <= 1 || (a.strides(d) >= 0 && a.strides(d) % item == 0);
  }
  if (in_place && a.shape(2) > 1 && strides[2] < a.shape(3)) in_place = false;  // overlapping rows
  if (!in_place) {
    a = float32_array(a, op, arg);  // C-contiguous and aligned (pybind's ensure() does not align)
    strides[0] = a.shape(1) * a.shape(2) * a.shape(3);
    strides[1] = a.shape(2) * a.shape(3);
    strides[2] = a.shape(3);
  }
  layout = {strides[0], strides[1], std::max<int64_t>(strides[2], std::max<int64_t>(a.shape(3), 1))};
  return a;
}

AttentionCausal read_causal(bool is_causal, const std::string& alignment, const char* op) {
  if (alignment != "top_left" && alignment != "bottom_right")
    throw py::value_error(std::string(op) + ": argument 'causal_alignment' must be 'top_left' or 'bottom_right', got '" +
                          alignment + "'");
  if (!is_causal) return AttentionCausal::none;
  return alignment == "top_left" ? AttentionCausal::top_left : AttentionCausal::bottom_right;
}

// The mask as the kernel reads it: bool or float32, any strides, broadcastable to (B, H, Lq, Lk); every
// broadcast dimension is read with stride 0, so nothing is materialised.
AttentionMask read_mask(py::handle obj, const AttentionParams& p, const char* op, py::array& keep) {
  AttentionMask mask;
  if (obj.is_none()) return mask;
  if (!py::isinstance<py::array>(obj))
    throw py::type_error(std::string(op) + ": argument 'attn_mask' must be a bool or float32 array, got " +
                         dtype_str(obj));
  keep = py::reinterpret_borrow<py::array>(obj);
  if (has_dtype(keep, py::dtype::of<bool>())) {
    mask.kind = AttentionMask::Kind::boolean;
  } else if (has_dtype(keep, py::dtype::of<float>())) {
    mask.kind = AttentionMask::Kind::additive;
    if (!is_aligned(keep)) keep = float32_array(obj, op, "attn_mask");
  } else {
    throw py::type_error(std::string(op) + ": argument 'attn_mask' must be a bool or float32 array, got " +
                         dtype_str(obj));
  }
  const std::vector<int64_t> target{p.batch, p.heads, p.len_q, p.len_k};
  if (keep.ndim() > 4)
    throw py::value_error(std::string(op) + ": argument 'attn_mask' must have at most 4 dimensions, got shape " +
                          shape_str(keep));
  int64_t strides[4] = {0, 0, 0, 0};
  const int offset = 4 - static_cast<int>(keep.ndim());
  for (int d = 0; d < keep.ndim(); ++d) {
    const int64_t size = keep.shape(d), want = target[d + offset];
    if (size != want && size != 1)
      throw py::value_error(std::string(op) + ": argument 'attn_mask' of shape " + shape_str(keep) +
                            " does not broadcast to " + shape_str(target));
    if (keep.strides(d) % keep.itemsize() != 0)
      throw py::value_error(std::string(op) + ": argument 'attn_mask' has strides that are not whole elements");
    strides[d + offset] = size == 1 ? 0 : keep.strides(d) / keep.itemsize();
  }
  mask.data = keep.data();
  mask.stride_b = strides[0];
  mask.stride_h = strides[1];
  mask.stride_q = strides[2];
  mask.stride_k = strides[3];
  return mask;
}

Problem make_problem(const char* op, py::handle q_obj, py::handle k_obj, py::handle v_obj, py::handle mask,
                     float dropout_p, bool is_causal, const std::string& causal_alignment,
                     std::optional<float> scale, uint64_t seed) {
  Problem pr;
  AttentionParams& p = pr.params;
  pr.q = strided_operand(q_obj, op, "query", p.q_layout);
  pr.k = strided_operand(k_obj, op, "key", p.k_layout);
  pr.v = strided_operand(v_obj, op, "value", p.v_layout);
  const int64_t B = pr.q.shape(0), H = pr.q.shape(1), Lq = pr.q.shape(2), D = pr.q.shape(3);
  const int64_t Hkv = pr.k.shape(1), Lk = pr.k.shape(2);
  check_shape(pr.k, {B, Hkv, Lk, D}, op, "key");
  check_shape(pr.v, {B, Hkv, Lk, D}, op, "value");
  if (D < 1) throw py::value_error(std::string(op) + ": the head dimension (last of 'query') must be >= 1, got 0");
  if (Hkv < 1 || H % Hkv != 0)
    throw py::value_error(std::string(op) + ": the heads of 'key' and 'value' (dim 1, " + std::to_string(Hkv) +
                          ") must divide those of 'query' (" + std::to_string(H) + ")");
  if (!(dropout_p >= 0.0f && dropout_p < 1.0f))
    throw py::value_error(std::string(op) + ": argument 'dropout_p' must be in [0, 1), got " +
                          std::to_string(dropout_p));
  p.batch = B;
  p.heads = H;
  p.kv_heads = Hkv;
  p.len_q = Lq;
  p.len_k = Lk;
  p.head_dim = D;
  p.scale = scale ? *scale : 1.0f / std::sqrt(static_cast<float>(D));
  if (!std::isfinite(p.scale))
    throw py::value_error(std::string(op) + ": argument 'scale' must be finite, got " + std::to_string(p.scale));
  p.causal = read_causal(is_causal, causal_alignment, op);
  p.mask = read_mask(mask, p, op, pr.mask);
  p.dropout_p = dropout_p;
  p.seed = seed;
  return pr;
}

py::tuple forward_binding(py::handle q, py::handle k, py::handle v, py::handle attn_mask, float dropout_p,
                          bool is_causal, std::optional<float> scale, uint64_t seed,
                          const std::string& causal_alignment) {
  Problem pr =
      make_problem("attention_forward", q, k, v, attn_mask, dropout_p, is_causal, causal_alignment, scale, seed);
  const float *q_ptr = static_cast<const float*>(pr.q.data()), *k_ptr = static_cast<const float*>(pr.k.data()),
              *v_ptr = static_cast<const float*>(pr.v.data());
  const AttentionParams& p = pr.params;
  FloatArray out = empty_float32({p.batch, p.heads, p.len_q, p.head_dim});
  FloatArray lse = empty_float32({p.batch, p.heads, p.len_q});
  float *out_ptr = out.mutable_data(), *lse_ptr = lse.mutable_data();
  {
    py::gil_scoped_release release;
    attention_forward(out_ptr, lse_ptr, q_ptr, k_ptr, v_ptr, p);
  }
  return py::make_tuple(out, lse);
}

py::tuple backward_binding(py::handle grad_out, py::handle q, py::handle k, py::handle v, py::handle out,
                           py::handle lse, py::handle attn_mask, float dropout_p, bool is_causal,
                           std::optional<float> scale, uint64_t seed, const std::string& causal_alignment) {
  const char* op = "attention_backward";
  Problem pr = make_problem(op, q, k, v, attn_mask, dropout_p, is_causal, causal_alignment, scale, seed);
  const float *q_ptr = static_cast<const float*>(pr.q.data()), *k_ptr = static_cast<const float*>(pr.k.data()),
              *v_ptr = static_cast<const float*>(pr.v.data());
  const AttentionParams& p = pr.params;
  FloatArray o = float32_array(out, op, "out"), l = float32_array(lse, op, "lse"),
             g = float32_array(grad_out, op, "grad_out");
  check_shape(o, {p.batch, p.heads, p.len_q, p.head_dim}, op, "out");
  check_shape(g, {p.batch, p.heads, p.len_q, p.head_dim}, op, "grad_out");
  check_shape(l, {p.batch, p.heads, p.len_q}, op, "lse");
  FloatArray dq = empty_float32({p.batch, p.heads, p.len_q, p.head_dim});
  FloatArray dk = empty_float32({p.batch, p.kv_heads, p.len_k, p.head_dim});
  FloatArray dv = empty_float32({p.batch, p.kv_heads, p.len_k, p.head_dim});
  float *dq_ptr = dq.mutable_data(), *dk_ptr = dk.mutable_data(), *dv_ptr = dv.mutable_data();
  {
    py::gil_scoped_release release;
    attention_backward(dq_ptr, dk_ptr, dv_ptr, g.data(), q_ptr, k_ptr, v_ptr, o.data(), l.data(), p);
  }
  return py::make_tuple(dq, dk, dv);
}

}  // namespace

SK_REGISTER_BINDINGS(attention) {
  m.def("attention_forward", &forward_binding, py::arg("query"), py::arg("key"), py::arg("value"),
        py::arg("attn_mask") = py::none(), py::arg("dropout_p") = 0.0f, py::arg("is_causal") = false,
        py::arg("scale") = py::none(), py::arg("seed") = 0, py::arg("causal_alignment") = "top_left",
        R"doc(Fused attention: returns (out, lse).

query (B, H, Lq, D), key and value (B, Hkv, Lk, D), float32, Hkv dividing H (grouped-query attention: query
head h reads key/value head h // (H // Hkv) in place). Each is read in place when its rows of D floats are
contiguous (e.g. the first Lk rows of a preallocated key/value cache), copied otherwise. attn_mask: None, bool
(True = attend) or float32 (added to the scores), broadcastable to (B, H, Lq, Lk) and read in place.
is_causal keeps key j for query i when j <= i (causal_alignment='top_left', torch's is_causal) or when
j <= i + Lk - Lq (causal_alignment='bottom_right': the queries are the last Lq positions, as after a
key/value cache). scale defaults to 1/sqrt(D). dropout_p in [0, 1) drops probabilities with a hash of `seed`.
out is (B, H, Lq, D); lse (B, H, Lq) is each row's log-sum-exp (+inf for a fully masked row, whose out is 0).)doc");
  m.def("attention_backward", &backward_binding, py::arg("grad_out"), py::arg("query"), py::arg("key"),
        py::arg("value"), py::arg("out"), py::arg("lse"), py::arg("attn_mask") = py::none(),
        py::arg("dropout_p") = 0.0f, py::arg("is_causal") = false, py::arg("scale") = py::none(),
        py::arg("seed") = 0, py::arg("causal_alignment") = "top_left",
        R"doc(Gradients (dq, dk, dv) of attention_forward, given its out and lse and the same options and seed.
dk and dv have key's shape (B, Hkv, Lk, D): with grouped-query heads they sum over the query heads sharing them.)doc");
}

}  // namespace sk::bind
