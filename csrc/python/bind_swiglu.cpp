// _C.swiglu_*: SwiGLU over (rows, dim) gate/up matrices (either may be a column slice of a wider matrix, read
// in place). Plain SiLU is _C.unary_forward("silu").
#include "kernel_args.h"
#include "row_views.h"
#include "seqkernels/swiglu.h"

namespace sk::bind {
namespace {

void check_pair(const RowView& gate, const RowView& up, const char* op) {
  if (gate.rows != up.rows || gate.cols != up.cols)
    throw py::value_error(std::string(op) + ": 'gate' and 'up' must have the same shape, got (" +
                          std::to_string(gate.rows) + ", " + std::to_string(gate.cols) + ") and (" +
                          std::to_string(up.rows) + ", " + std::to_string(up.cols) + ")");
}

FloatArray swiglu_fwd(py::handle gate_obj, py::handle up_obj) {
  const char* op = "swiglu";
  RowView gate = row_view(gate_obj, op, "gate"), up = row_view(up_obj, op, "up");
  check_pair(gate, up, op);
  FloatArray y = empty_float32({gate.rows, gate.cols});
  float* yp = y.mutable_data();
  const SwigluSizes sizes{gate.rows, gate.cols, gate.ld, up.ld};
  py::gil_scoped_release release;
  swiglu_forward(yp, gate.data(), up.data(), sizes);
  return y;
}

py::tuple swiglu_bwd(py::handle dy_obj, py::handle gate_obj, py::handle up_obj) {
  const char* op = "swiglu_backward";
  RowView gate = row_view(gate_obj, op, "gate"), up = row_view(up_obj, op, "up");
  check_pair(gate, up, op);
  FloatArray dy = float32_array(dy_obj, op, "grad_output");
  check_shape(dy, {gate.rows, gate.cols}, op, "grad_output");
  FloatArray dgate = empty_float32({gate.rows, gate.cols}), dup = empty_float32({gate.rows, gate.cols});
  float *dgp = dgate.mutable_data(), *dup_p = dup.mutable_data();
  const SwigluSizes sizes{gate.rows, gate.cols, gate.ld, up.ld};
  {
    py::gil_scoped_release release;
    swiglu_backward(dgp, dup_p, dy.data(), gate.data(), up.data(), sizes);
  }
  return py::make_tuple(dgate, dup);
}

}  // namespace

SK_REGISTER_BINDINGS(swiglu) {
  m.def("swiglu_forward", &swiglu_fwd, py::arg("gate"), py::arg("up"), "silu(gate) * up over (rows, dim).");
  m.def("swiglu_backward", &swiglu_bwd, py::arg("grad_output"), py::arg("gate"), py::arg("up"),
        "-> (grad_gate, grad_up).");
}

}  // namespace sk::bind
