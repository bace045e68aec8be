// _C.rotary_embedding_: rotary position embedding applied in place to (tokens, heads · head_dim) rows.
#include "row_views.h"
#include "seqkernels/rotary.h"

namespace sk::bind {
namespace {

void rotary_inplace(py::handle x_obj, py::handle positions_obj, int64_t head_dim, float theta, int64_t rotary_dim,
                    bool interleaved, bool inverse) {
  const char* op = "rotary_embedding";
  RowView x = row_view_inplace(x_obj, op, "input");
  auto positions = index_array(positions_obj, op, "positions");
  if (positions.ndim() != 1 || positions.shape(0) != x.rows)
    throw py::value_error(std::string(op) + ": argument 'positions' must have shape (" + std::to_string(x.rows) +
                          ",), got " + shape_str(positions));
  if (head_dim < 2 || x.cols % head_dim != 0)
    throw py::value_error(std::string(op) + ": argument 'head_dim' must be >= 2 and divide the row length " +
                          std::to_string(x.cols) + ", got " + std::to_string(head_dim));
  if (rotary_dim < 0) rotary_dim = head_dim;
  if (rotary_dim < 2 || rotary_dim > head_dim || rotary_dim % 2 != 0)
    throw py::value_error(std::string(op) + ": argument 'rotary_dim' must be even and in [2, head_dim], got " +
                          std::to_string(rotary_dim));
  if (!(theta > 0.0f)) throw py::value_error(std::string(op) + ": argument 'theta' must be > 0");
  const RotarySizes sizes{x.rows, x.cols / head_dim, head_dim, rotary_dim, x.ld, theta, interleaved};
  float* p = x.mutable_data();
  py::gil_scoped_release release;
  if (inverse)
    rotary_backward(p, p, positions.data(), sizes);
  else
    rotary_forward(p, p, positions.data(), sizes);
}

}  // namespace

SK_REGISTER_BINDINGS(rotary) {
  m.def("rotary_embedding_", &rotary_inplace, py::arg("input"), py::arg("positions"), py::arg("head_dim"),
        py::arg("theta"), py::arg("rotary_dim") = -1, py::arg("interleaved") = false, py::arg("inverse") = false,
        "Rotates (tokens, heads * head_dim) float32 rows in place (rows may be a column slice); inverse=True "
        "applies the backward (inverse) rotation.");
}

}  // namespace sk::bind
