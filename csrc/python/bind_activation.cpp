// _C.gelu_*, _C.softmax_*, _C.dropout_*: activations over float32 arrays (softmax over the last dim of a
// (rows, dim) matrix; the others element-wise over any shape).
#include "kernel_args.h"
#include "seqkernels/activation.h"

namespace sk::bind {
namespace {

GeluApproximation parse_approximation(const std::string& approximate) {
  if (approximate == "none") return GeluApproximation::none;
  if (approximate == "tanh") return GeluApproximation::tanh;
  throw py::value_error("gelu: argument 'approximate' must be 'none' or 'tanh', got '" + approximate + "'");
}

FloatArray gelu_forward_binding(py::handle x_obj, const std::string& approximate) {
  const GeluApproximation mode = parse_approximation(approximate);
  FloatArray x = float32_array(x_obj, "gelu", "input");
  FloatArray y = empty_float32(shape_of(x));
  float* yp = y.mutable_data();
  py::gil_scoped_release release;
  gelu_forward(yp, x.data(), x.size(), mode);
  return y;
}

FloatArray gelu_backward_binding(py::handle dy_obj, py::handle x_obj, const std::string& approximate) {
  const GeluApproximation mode = parse_approximation(approximate);
  FloatArray x = float32_array(x_obj, "gelu_backward", "input");
  FloatArray dy = float32_array(dy_obj, "gelu_backward", "grad_output");
  check_same_shape(x, dy, "gelu_backward", "grad_output");
  FloatArray dx = empty_float32(shape_of(x));
  float* dxp = dx.mutable_data();
  py::gil_scoped_release release;
  gelu_backward(dxp, dy.data(), x.data(), x.size(), mode);
  return dx;
}

FloatArray softmax_forward_binding(py::handle x_obj, bool log) {
  const char* op = log ? "log_softmax" : "softmax";
  FloatArray x = float32_array(x_obj, op, "input");
  check_ndim(x, 2, op, "input");
  FloatArray y = empty_float32(shape_of(x));
  float* yp = y.mutable_data();
  py::gil_scoped_release release;
  softmax_forward(yp, x.data(), x.shape(0), x.shape(1), log);
  return y;
}

FloatArray softmax_backward_binding(py::handle dy_obj, py::handle y_obj, bool log) {
  const char* op = log ? "log_softmax_backward" : "softmax_backward";
  FloatArray y = float32_array(y_obj, op, "output");
  check_ndim(y, 2, op, "output");
  FloatArray dy = float32_array(dy_obj, op, "grad_output");
  check_same_shape(y, dy, op, "grad_output");
  FloatArray dx = empty_float32(shape_of(y));
  float* dxp = dx.mutable_data();
  py::gil_scoped_release release;
  softmax_backward(dxp, dy.data(), y.data(), y.shape(0), y.shape(1), log);
  return dx;
}

// forward masks the input, backward masks the incoming gradient: the same kernel call either way.
FloatArray dropout_binding(py::handle x_obj, float p, uint64_t seed, bool backward) {
  const char* op = backward ? "dropout_backward" : "dropout";
  if (!(p >= 0.0f && p <= 1.0f))
    throw py::value_error(std::string(op) + ": argument 'p' must be in [0, 1], got " + std::to_string(p));
  FloatArray x = float32_array(x_obj, op, backward ? "grad_output" : "input");
  FloatArray y = empty_float32(shape_of(x));
  float* yp = y.mutable_data();
  py::gil_scoped_release release;
  dropout(yp, x.data(), x.size(), p, seed);
  return y;
}

}  // namespace

SK_REGISTER_BINDINGS(activation) {
  m.def("gelu_forward", &gelu_forward_binding, py::arg("input"), py::arg("approximate") = "none",
        "GELU of a float32 array (approximate: 'none' = erf, 'tanh').");
  m.def("gelu_backward", &gelu_backward_binding, py::arg("grad_output"), py::arg("input"),
        py::arg("approximate") = "none", "grad_output * gelu'(input).");
  m.def("softmax_forward", &softmax_forward_binding, py::arg("input"), py::arg("log") = false,
        "softmax (or log_softmax) over the last dim of a (rows, dim) float32 matrix.");
  m.def("softmax_backward", &softmax_backward_binding, py::arg("grad_output"), py::arg("output"),
        py::arg("log") = false, "Gradient of softmax (log_softmax) from its forward output.");
  m.def("dropout_forward", [](py::handle x, float p, uint64_t seed) { return dropout_binding(x, p, seed, false); },
        py::arg("input"), py::arg("p"), py::arg("seed"),
        "Zeroes element i when uniform(seed, i) < p and scales the rest by 1/(1-p); 0 <= p <= 1 (p = 1: zeros).");
  m.def("dropout_backward", [](py::handle dy, float p, uint64_t seed) { return dropout_binding(dy, p, seed, true); },
        py::arg("grad_output"), py::arg("p"), py::arg("seed"), "The same mask applied to the gradient.");
}

}  // namespace sk::bind
