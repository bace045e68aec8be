// _C.gelu_*, _C.softmax_*, _C.dropout_*: activations over float32 arrays (softmax over any dim; the others
// element-wise over any shape).
#include <string>

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

// `dim` (negative from the end) of an array's shape as (outer, dim, inner).
void softmax_view(const py::array& a, int64_t dim, const char* op, int64_t& outer, int64_t& size, int64_t& inner) {
  const int64_t ndim = a.ndim();
  if (ndim == 0 || dim < -ndim || dim >= ndim)
    throw py::index_error(std::string(op) + ": argument 'dim' (" + std::to_string(dim) + ") is out of range for " +
                          std::to_string(ndim) + " dims");
  if (dim < 0) dim += ndim;
  outer = inner = 1;
  for (int64_t d = 0; d < dim; ++d) outer *= a.shape(d);
  size = a.shape(dim);
  for (int64_t d = dim + 1; d < ndim; ++d) inner *= a.shape(d);
}

FloatArray softmax_forward_binding(py::handle x_obj, bool log, int64_t dim) {
  const char* op = log ? "log_softmax" : "softmax";
  FloatArray x = float32_array(x_obj, op, "input");
  int64_t outer, size, inner;
  softmax_view(x, dim, op, outer, size, inner);
  FloatArray y = empty_float32(shape_of(x));
  float* yp = y.mutable_data();
  py::gil_scoped_release release;
  softmax_forward(yp, x.data(), outer, size, inner, log);
  return y;
}

FloatArray softmax_backward_binding(py::handle dy_obj, py::handle y_obj, bool log, int64_t dim) {
  const char* op = log ? "log_softmax_backward" : "softmax_backward";
  FloatArray y = float32_array(y_obj, op, "output");
  FloatArray dy = float32_array(dy_obj, op, "grad_output");
  check_same_shape(y, dy, op, "grad_output");
  int64_t outer, size, inner;
  softmax_view(y, dim, op, outer, size, inner);
  FloatArray dx = empty_float32(shape_of(y));
  float* dxp = dx.mutable_data();
  py::gil_scoped_release release;
  softmax_backward(dxp, dy.data(), y.data(), outer, size, inner, log);
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
  m.def("softmax_forward", &softmax_forward_binding, py::arg("input"), py::arg("log") = false, py::arg("dim") = -1,
        "softmax (or log_softmax) of a float32 array over `dim` (default the last).");
  m.def("softmax_backward", &softmax_backward_binding, py::arg("grad_output"), py::arg("output"),
        py::arg("log") = false, py::arg("dim") = -1, "Gradient of softmax (log_softmax) from its forward output.");
  m.def("dropout_forward", [](py::handle x, float p, uint64_t seed) { return dropout_binding(x, p, seed, false); },
        py::arg("input"), py::arg("p"), py::arg("seed"),
        "Zeroes element i when uniform(seed, i) < p and scales the rest by 1/(1-p); 0 <= p <= 1 (p = 1: zeros).");
  m.def("dropout_backward", [](py::handle dy, float p, uint64_t seed) { return dropout_binding(dy, p, seed, true); },
        py::arg("grad_output"), py::arg("p"), py::arg("seed"), "The same mask applied to the gradient.");
}

}  // namespace sk::bind
