// _C.gemm: GEMM on numpy arrays, 2-D or batched 3-D, reading strided and transposed views in place.
#include "binding_utils.h"
#include "seqkernels/gemm.h"

namespace sk::bind {
namespace {

// One GEMM operand as the kernel wants it: the logical matrix (last two dims) is `data` with leading
// dimension `ld`, stored transposed when `transposed`; matrix b of a batch starts at data + b*batch_stride.
struct Operand {
  py::array keep;  // owns the memory read (the input itself, or a contiguous copy)
  const float* data;
  int64_t rows, cols, ld, batch, batch_stride;
  bool transposed;
};

Operand make_operand(py::handle obj, const char* op, const char* arg) {
  py::array a = require_float32(obj, op, arg);
  if (a.ndim() != 2 && a.ndim() != 3)
    throw py::value_error(std::string(op) + ": argument '" + arg + "' must be 2-D or 3-D, got shape " + shape_str(a));
  const int nd = static_cast<int>(a.ndim());
  Operand o{a, nullptr, a.shape(nd - 2), a.shape(nd - 1), 0, nd == 3 ? a.shape(0) : 1, 0, false};
  const py::ssize_t item = sizeof(float);
  bool aligned = is_aligned(a);
  for (int d = 0; d < nd; ++d) aligned = aligned && a.strides(d) % item == 0;
  const int64_t sr = a.strides(nd - 2) / item, sc = a.strides(nd - 1) / item;
  if (aligned && sc == 1 && (sr >= o.cols || o.rows <= 1)) {
    o.ld = o.rows <= 1 ? std::max<int64_t>(o.cols, 1) : sr;  // row-major, possibly a row slice
  } else if (aligned && sr == 1 && (sc >= o.rows || o.cols <= 1)) {
    o.ld = o.cols <= 1 ? std::max<int64_t>(o.rows, 1) : sc;  // a transposed view of a row-major matrix
    o.transposed = true;
  } else {
    o.keep = float32_array(obj, op, arg);  // any other layout: one contiguous copy (MemoryError if it fails)
    o.ld = std::max<int64_t>(o.cols, 1);
  }
  o.data = static_cast<const float*>(o.keep.data());
  o.batch_stride = (nd == 3 && o.batch > 1) ? o.keep.strides(0) / item : 0;
  return o;
}

FloatArray gemm_binding(py::handle a_obj, py::handle b_obj, bool trans_a, bool trans_b, float alpha, float beta,
                        py::object out) {
  const char* op = "gemm";
  Operand a = make_operand(a_obj, op, "a"), b = make_operand(b_obj, op, "b");
  const int64_t M = trans_a ? a.cols : a.rows, Ka = trans_a ? a.rows : a.cols;
  const int64_t Kb = trans_b ? b.cols : b.rows, N = trans_b ? b.rows : b.cols;
  if (Ka != Kb)
    throw py::value_error(std::string(op) + ": shapes " + shape_str(a.keep) + (trans_a ? " (transposed)" : "") +
                          " and " + shape_str(b.keep) + (trans_b ? " (transposed)" : "") +
                          " do not match: 'a' contributes " + std::to_string(Ka) + " columns but 'b' has " +
                          std::to_string(Kb) + " rows");
  const bool batched = a.keep.ndim() == 3 || b.keep.ndim() == 3;
  if (a.batch != b.batch && a.batch != 1 && b.batch != 1)
    throw py::value_error(std::string(op) + ": batch sizes of 'a' " + shape_str(a.keep) + " and 'b' " +
                          shape_str(b.keep) + " differ and neither is 1");
  const int64_t batch = a.batch == 1 ? b.batch : a.batch;
  std::vector<int64_t> out_shape = batched ? std::vector<int64_t>{batch, M, N} : std::vector<int64_t>{M, N};

  FloatArray c;
  if (out.is_none()) {
    if (beta != 0.0f) throw py::value_error(std::string(op) + ": beta != 0 accumulates into 'out', which is missing");
    c = empty_float32(out_shape);
  } else {
    c = float32_inplace(out, op, "out");
    check_shape(c, out_shape, op, "out");
    if (memory_overlaps(c, a.keep) || memory_overlaps(c, b.keep))
      throw py::value_error(std::string(op) + ": 'out' must not share memory with 'a' or 'b'");
  }
  const bool ta = trans_a != a.transposed, tb = trans_b != b.transposed;
  float* cp = c.mutable_data();
  {
    py::gil_scoped_release release;
    sk::gemm_strided_batched(cp, std::max<int64_t>(N, 1), M * N, a.data, a.ld, a.batch_stride, b.data, b.ld,
                             b.batch_stride, {M, N, Ka, ta, tb, alpha, beta}, batch);
  }
  return c;
}

// op(B) packed once for many products (gemm_pack_b / gemm_prepacked_b).
class PackedB {
 public:
  PackedB(py::handle b_obj, bool trans_b) {
    Operand b = make_operand(b_obj, "PackedB", "b");
    if (b.keep.ndim() != 2) throw py::value_error("PackedB: argument 'b' must be 2-D, got shape " + shape_str(b.keep));
    const bool tb = trans_b != b.transposed;
    rows_ = trans_b ? b.cols : b.rows;  // K
    cols_ = trans_b ? b.rows : b.cols;  // N
    // at least one float: an empty B (K = 0) still hands the packer a real pointer
    data_.resize(static_cast<size_t>(std::max<int64_t>(1, sk::gemm_packed_b_size(rows_, cols_))));
    py::gil_scoped_release release;
    sk::gemm_pack_b(data_.data(), b.data, b.ld, tb, rows_, cols_);
  }
  int64_t rows() const { return rows_; }
  int64_t cols() const { return cols_; }
  const float* data() const { return data_.data(); }

 private:
  std::vector<float> data_;
  int64_t rows_, cols_;
};

FloatArray gemm_packed_binding(py::handle a_obj, const PackedB& b, bool trans_a, float alpha, float beta,
                               py::object out) {
  const char* op = "gemm_packed";
  Operand a = make_operand(a_obj, op, "a");
  if (a.keep.ndim() != 2) throw py::value_error("gemm_packed: argument 'a' must be 2-D, got shape " + shape_str(a.keep));
  const int64_t M = trans_a ? a.cols : a.rows, K = trans_a ? a.rows : a.cols, N = b.cols();
  if (K != b.rows())
    throw py::value_error("gemm_packed: shapes " + shape_str(a.keep) + " and packed (" + std::to_string(b.rows()) +
                          ", " + std::to_string(N) + ") do not match: 'a' contributes " + std::to_string(K) +
                          " columns but 'b' has " + std::to_string(b.rows()) + " rows");
  FloatArray c;
  if (out.is_none()) {
    if (beta != 0.0f) throw py::value_error("gemm_packed: beta != 0 accumulates into 'out', which is missing");
    c = empty_float32({M, N});
  } else {
    c = float32_inplace(out, op, "out");
    check_shape(c, {M, N}, op, "out");
    if (memory_overlaps(c, a.keep)) throw py::value_error("gemm_packed: 'out' must not share memory with 'a'");
  }
  const bool ta = trans_a != a.transposed;
  float* cp = c.mutable_data();
  py::gil_scoped_release release;
  sk::gemm_prepacked_b(cp, std::max<int64_t>(N, 1), a.data, a.ld, b.data(), {M, N, K, ta, false, alpha, beta});
  return c;
}

}  // namespace

SK_REGISTER_BINDINGS(gemm) {
  py::class_<PackedB>(m, "PackedB", "op(b) packed once for repeated products with gemm_packed.")
      .def(py::init<py::handle, bool>(), py::arg("b"), py::arg("trans_b") = false)
      .def_property_readonly("shape", [](const PackedB& p) { return py::make_tuple(p.rows(), p.cols()); });
  m.def("gemm_packed", &gemm_packed_binding, py::arg("a"), py::arg("b"), py::kw_only(), py::arg("trans_a") = false,
        py::arg("alpha") = 1.0f, py::arg("beta") = 0.0f, py::arg("out") = py::none(),
        "out = alpha * op(a) @ B + beta * out with B a PackedB (packed once, reused).");
  m.def("gemm", &gemm_binding, py::arg("a"), py::arg("b"), py::kw_only(), py::arg("trans_a") = false,
        py::arg("trans_b") = false, py::arg("alpha") = 1.0f, py::arg("beta") = 0.0f, py::arg("out") = py::none(),
        R"doc(out = alpha * op(a) @ op(b) + beta * out   (float32).

a, b: 2-D matrices or 3-D batches (a batch of 1, or a 2-D operand, is broadcast over the other's batch).
Strided and transposed views are read in place; other layouts are copied once. beta != 0 needs `out`,
which must be a writable C-contiguous float32 array of the result's shape that shares no memory with a or b.)doc");
}

}  // namespace sk::bind
