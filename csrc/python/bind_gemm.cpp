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
  if (!py::isinstance<py::array>(obj) || !py::reinterpret_borrow<py::array>(obj).dtype().is(py::dtype::of<float>()))
    throw py::type_error(std::string(op) + ": argument '" + arg + "' must be a float32 array, got " + dtype_str(obj));
  auto a = py::reinterpret_borrow<py::array>(obj);
  if (a.ndim() != 2 && a.ndim() != 3)
    throw py::value_error(std::string(op) + ": argument '" + arg + "' must be 2-D or 3-D, got shape " + shape_str(a));
  const int nd = static_cast<int>(a.ndim());
  Operand o{a, nullptr, a.shape(nd - 2), a.shape(nd - 1), 0, nd == 3 ? a.shape(0) : 1, 0, false};
  const py::ssize_t item = sizeof(float);
  bool aligned = true;
  for (int d = 0; d < nd; ++d) aligned = aligned && a.strides(d) % item == 0;
  const int64_t sr = a.strides(nd - 2) / item, sc = a.strides(nd - 1) / item;
  if (aligned && sc == 1 && (sr >= o.cols || o.rows <= 1)) {
    o.ld = o.rows <= 1 ? std::max<int64_t>(o.cols, 1) : sr;  // row-major, possibly a row slice
  } else if (aligned && sr == 1 && (sc >= o.rows || o.cols <= 1)) {
    o.ld = o.cols <= 1 ? std::max<int64_t>(o.rows, 1) : sc;  // a transposed view of a row-major matrix
    o.transposed = true;
  } else {
    o.keep = FloatArray::ensure(obj);  // any other layout: one contiguous copy
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
    sk::gemm_strided_batched(ta, tb, M, N, Ka, alpha, a.data, a.ld, a.batch_stride, b.data, b.ld, b.batch_stride,
                             beta, cp, std::max<int64_t>(N, 1), M * N, batch);
  }
  return c;
}

}  // namespace

SK_REGISTER_BINDINGS(gemm) {
  m.def("gemm", &gemm_binding, py::arg("a"), py::arg("b"), py::kw_only(), py::arg("trans_a") = false,
        py::arg("trans_b") = false, py::arg("alpha") = 1.0f, py::arg("beta") = 0.0f, py::arg("out") = py::none(),
        R"doc(out = alpha * op(a) @ op(b) + beta * out   (float32).

a, b: 2-D matrices or 3-D batches (a batch of 1, or a 2-D operand, is broadcast over the other's batch).
Strided and transposed views are read in place; other layouts are copied once. beta != 0 needs `out`,
which must be a writable C-contiguous float32 array of the result's shape that shares no memory with a or b.)doc");
}

}  // namespace sk::bind
