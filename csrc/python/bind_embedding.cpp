// _C.embedding_forward / _C.embedding_backward: validate ids (IndexError before anything is written), release
// the GIL, call sk::embedding_*.
#include <pybind11/stl.h>

#include <optional>

#include "binding_utils.h"
#include "seqkernels/embedding.h"

namespace sk::bind {
namespace {

using IdArray = py::array_t<int64_t, py::array::c_style>;

void check_ids_in_range(const IdArray& ids, int64_t num_embeddings, const char* op) {
  const int64_t bad = embedding_first_invalid_id(ids.data(), ids.size(), num_embeddings);
  if (bad >= 0)
    throw py::index_error(std::string(op) + ": id " + std::to_string(ids.data()[bad]) + " (at flat position " +
                          std::to_string(bad) + " of 'input') is out of range for a table of " +
                          std::to_string(num_embeddings) + " rows (valid ids are 0.." +
                          std::to_string(num_embeddings - 1) + ")");
}

// padding_idx as torch takes it (None, or in [-num_embeddings, num_embeddings)) -> a row index, or -1 for none.
int64_t padding_row(std::optional<int64_t> padding_idx, int64_t num_embeddings, const char* op) {
  if (!padding_idx) return -1;
  const int64_t p = *padding_idx;
  if (p < -num_embeddings || p >= num_embeddings)
    throw py::value_error(std::string(op) + ": argument 'padding_idx' must be within [-" +
                          std::to_string(num_embeddings) + ", " + std::to_string(num_embeddings) + "), got " +
                          std::to_string(p));
  return p < 0 ? p + num_embeddings : p;
}

std::vector<int64_t> row_shape(const IdArray& ids, int64_t dim) {
  std::vector<int64_t> shape(ids.shape(), ids.shape() + ids.ndim());
  shape.push_back(dim);
  return shape;
}

FloatArray embedding_forward_binding(py::handle weight_obj, py::handle ids_obj) {
  const char* op = "embedding";
  FloatArray table = float32_array(weight_obj, op, "weight");
  check_ndim(table, 2, op, "weight");
  IdArray ids = index_array(ids_obj, op, "input");
  const int64_t num_embeddings = table.shape(0), dim = table.shape(1);
  check_ids_in_range(ids, num_embeddings, op);
  FloatArray y = empty_float32(row_shape(ids, dim));
  float* yp = y.mutable_data();
  {
    py::gil_scoped_release release;
    embedding_forward(yp, ids.data(), table.data(), ids.size(), dim);
  }
  return y;
}

py::object embedding_backward_binding(py::handle dy_obj, py::handle ids_obj, int64_t num_embeddings,
                                      std::optional<int64_t> padding_idx, bool scale_grad_by_freq, bool sparse) {
  const char* op = "embedding_backward";
  if (num_embeddings < 0)
    throw py::value_error(std::string(op) + ": argument 'num_embeddings' must be >= 0, got " +
                          std::to_string(num_embeddings));
  FloatArray dy = float32_array(dy_obj, op, "grad_output");
  IdArray ids = index_array(ids_obj, op, "input");
  if (dy.ndim() != ids.ndim() + 1)
    throw py::value_error(std::string(op) + ": argument 'grad_output' must have shape input.shape + (dim,) = " +
                          shape_str(ids) + " + (dim,), got " + shape_str(dy));
  const int64_t dim = dy.shape(dy.ndim() - 1);
  check_shape(dy, row_shape(ids, dim), op, "grad_output");
  check_ids_in_range(ids, num_embeddings, op);
  const int64_t padding = padding_row(padding_idx, num_embeddings, op);

  EmbeddingGradPlan plan;
  {
    py::gil_scoped_release release;
    plan = embedding_grad_plan(ids.data(), ids.size(), padding);
  }
  if (!sparse) {
    FloatArray dtable = empty_float32({num_embeddings, dim});
    float* dp = dtable.mutable_data();
    {
      py::gil_scoped_release release;
      embedding_backward_dense(dp, dy.data(), plan, num_embeddings, dim, scale_grad_by_freq);
    }
    return std::move(dtable);
  }
  const int64_t rows = static_cast<int64_t>(plan.rows.size());
  FloatArray values = empty_float32({rows, dim});
  IdArray row_ids(std::vector<py::ssize_t>{rows});
  std::copy(plan.rows.begin(), plan.rows.end(), row_ids.mutable_data());
  float* vp = values.mutable_data();
  {
    py::gil_scoped_release release;
    embedding_backward_sparse(vp, dy.data(), plan, dim, scale_grad_by_freq);
  }
  return py::make_tuple(row_ids, values);
}

}  // namespace

SK_REGISTER_BINDINGS(embedding) {
  m.def("embedding_forward", &embedding_forward_binding, py::arg("weight"), py::arg("input"),
        R"doc(weight[input]: rows of the float32 table (num_embeddings, dim) for int32/int64 ids of any shape;
returns input.shape + (dim,). An id outside [0, num_embeddings) raises IndexError before anything is written.)doc");
  m.def("embedding_backward", &embedding_backward_binding, py::arg("grad_output"), py::arg("input"),
        py::arg("num_embeddings"), py::kw_only(), py::arg("padding_idx") = py::none(),
        py::arg("scale_grad_by_freq") = false, py::arg("sparse") = false,
        R"doc(Gradient of embedding with respect to the table, given grad_output (input.shape + (dim,)).

Dense (sparse=False): a (num_embeddings, dim) array, zero except rows that occur in input. Sparse: a tuple
(rows, values): the distinct ids of input in ascending order (int64, padding_idx left out) and the (len(rows), dim)
summed gradients of those rows. padding_idx receives no gradient; scale_grad_by_freq divides each row's gradient
by how often its id occurs in input. Deterministic: identical for every thread count.)doc");
}

}  // namespace sk::bind
