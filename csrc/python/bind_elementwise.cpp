// _C.unary_forward / _C.unary_backward, _C.binary_forward / _C.binary_backward: element-wise float32 math
// (the kernels are documented in seqkernels/elementwise.h).
#include <pybind11/stl.h>

#include <cmath>
#include <string>

#include "kernel_args.h"
#include "seqkernels/elementwise.h"

namespace sk::bind {
namespace {

UnaryOp parse_unary(const std::string& name, const char* op) {
  static const std::pair<const char*, UnaryOp> names[] = {
      {"relu", UnaryOp::relu}, {"tanh", UnaryOp::tanh}, {"sigmoid", UnaryOp::sigmoid},
      {"silu", UnaryOp::silu}, {"softplus", UnaryOp::softplus}, {"leaky_relu", UnaryOp::leaky_relu},
      {"elu", UnaryOp::elu}, {"exp", UnaryOp::exp}, {"log", UnaryOp::log}};
  for (const auto& [n, u] : names)
    if (name == n) return u;
  throw py::value_error(std::string(op) + ": unknown function '" + name +
                        "' (expected relu, tanh, sigmoid, silu, softplus, leaky_relu, elu, exp or log)");
}

bool reads_output(UnaryOp u) {
  return u == UnaryOp::relu || u == UnaryOp::tanh || u == UnaryOp::sigmoid || u == UnaryOp::exp;
}

UnaryParams unary_params(float alpha, float beta, float threshold, const char* op) {
  if (!(beta != 0.0f) || !std::isfinite(beta))
    throw py::value_error(std::string(op) + ": argument 'beta' must be a finite non-zero number");
  return {alpha, beta, threshold};
}

FloatArray unary_forward_binding(py::handle x_obj, const std::string& name, float alpha, float beta,
                                 float threshold) {
  const char* op = "unary_forward";
  const UnaryOp u = parse_unary(name, op);
  const UnaryParams params = unary_params(alpha, beta, threshold, op);
  FloatArray x = float32_array(x_obj, op, "input");
  FloatArray y = empty_float32(shape_of(x));
  float* yp = y.mutable_data();
  py::gil_scoped_release release;
  unary_forward(yp, x.data(), x.size(), u, params);
  return y;
}

FloatArray unary_backward_binding(py::handle dy_obj, py::handle x_obj, py::handle y_obj, const std::string& name,
                                  float alpha, float beta, float threshold) {
  const char* op = "unary_backward";
  const UnaryOp u = parse_unary(name, op);
  const UnaryParams params = unary_params(alpha, beta, threshold, op);
  FloatArray dy = float32_array(dy_obj, op, "grad_output");
  const bool output = reads_output(u);
  py::handle saved = output ? y_obj : x_obj;
  if (saved.is_none())
    throw py::value_error(std::string(op) + ": '" + name + "' needs argument '" + (output ? "output" : "input") +
                          "'");
  FloatArray s = float32_array(saved, op, output ? "output" : "input");
  check_same_shape(dy, s, op, output ? "output" : "input");
  FloatArray dx = empty_float32(shape_of(dy));
  float* dxp = dx.mutable_data();
  py::gil_scoped_release release;
  unary_backward(dxp, dy.data(), output ? nullptr : s.data(), output ? s.data() : nullptr, dy.size(), u, params);
  return dx;
}

BinaryOp parse_binary(const std::string& name, const char* op) {
  if (name == "add") return BinaryOp::add;
  if (name == "sub") return BinaryOp::sub;
  if (name == "mul") return BinaryOp::mul;
  if (name == "div") return BinaryOp::div;
  throw py::value_error(std::string(op) + ": unknown operation '" + name + "' (expected add, sub, mul or div)");
}

Broadcast broadcast_of(const std::vector<int64_t>& a, const std::vector<int64_t>& b, const char* op) {
  Broadcast s;
  if (!make_broadcast(s, a.data(), static_cast<int>(a.size()), b.data(), static_cast<int>(b.size())))
    throw py::value_error(std::string(op) + ": shapes " + shape_str(a) + " and " + shape_str(b) +
                          " do not broadcast (or need more than " + std::to_string(kMaxBroadcastDims) +
                          " dims after merging)");
  return s;
}

std::vector<int64_t> broadcast_shape(const std::vector<int64_t>& a, const std::vector<int64_t>& b) {
  const size_t n = std::max(a.size(), b.size());
  std::vector<int64_t> y(n);
  for (size_t d = 0; d < n; ++d) {
    const int64_t ad = d < n - a.size() ? 1 : a[d - (n - a.size())], bd = d < n - b.size() ? 1 : b[d - (n - b.size())];
    y[d] = ad == 1 ? bd : ad;
  }
  return y;
}

FloatArray binary_forward_binding(py::handle a_obj, py::handle b_obj, const std::string& name) {
  const char* op = "binary_forward";
  const BinaryOp bo = parse_binary(name, op);
  FloatArray a = float32_array(a_obj, op, "a"), b = float32_array(b_obj, op, "b");
  const Broadcast s = broadcast_of(shape_of(a), shape_of(b), op);
  FloatArray y = empty_float32(broadcast_shape(shape_of(a), shape_of(b)));
  float* yp = y.mutable_data();
  py::gil_scoped_release release;
  binary_forward(yp, a.data(), b.data(), bo, s);
  return y;
}

// An operand given as an array, or (add, sub, whose gradients need only shapes) as its shape.
std::vector<int64_t> operand_shape(py::handle obj, std::optional<FloatArray>& array, bool shape_allowed, const char* op,
                                   const char* arg) {
  if (shape_allowed && (py::isinstance<py::tuple>(obj) || py::isinstance<py::list>(obj)))
    return obj.cast<std::vector<int64_t>>();
  array = float32_array(obj, op, arg);
  return shape_of(*array);
}

py::tuple binary_backward_binding(py::handle dy_obj, py::handle a_obj, py::handle b_obj, const std::string& name,
                                  bool need_a, bool need_b) {
  const char* op = "binary_backward";
  const BinaryOp bo = parse_binary(name, op);
  const bool shapes_only = bo == BinaryOp::add || bo == BinaryOp::sub;
  std::optional<FloatArray> a, b;
  const std::vector<int64_t> a_shape = operand_shape(a_obj, a, shapes_only, op, "a");
  const std::vector<int64_t> b_shape = operand_shape(b_obj, b, shapes_only, op, "b");
  for (int64_t d : a_shape)
    if (d < 0) throw py::value_error(std::string(op) + ": argument 'a' has a negative size");
  for (int64_t d : b_shape)
    if (d < 0) throw py::value_error(std::string(op) + ": argument 'b' has a negative size");
  const Broadcast s = broadcast_of(a_shape, b_shape, op);
  FloatArray dy = float32_array(dy_obj, op, "grad_output");
  check_shape(dy, broadcast_shape(a_shape, b_shape), op, "grad_output");
  py::object da, db;
  float* da_p = optional_output(need_a, a_shape, da);
  float* db_p = optional_output(need_b, b_shape, db);
  {
    py::gil_scoped_release release;
    binary_backward(da_p, db_p, dy.data(), data_or_null(a), data_or_null(b), bo, s);
  }
  return py::make_tuple(da, db);
}

}  // namespace

SK_REGISTER_BINDINGS(elementwise) {
  m.def("unary_forward", &unary_forward_binding, py::arg("input"), py::arg("op"), py::arg("alpha") = 0.01f,
        py::arg("beta") = 1.0f, py::arg("threshold") = 20.0f,
        R"doc(op(input) element-wise on float32: relu, tanh, sigmoid, silu, softplus (beta, threshold), leaky_relu
(alpha = negative slope), elu (alpha), exp, log.)doc");
  m.def("unary_backward", &unary_backward_binding, py::arg("grad_output"), py::arg("input") = py::none(),
        py::arg("output") = py::none(), py::arg("op"), py::arg("alpha") = 0.01f, py::arg("beta") = 1.0f,
        py::arg("threshold") = 20.0f,
        R"doc(Gradient of unary_forward: relu, tanh, sigmoid, exp read `output`; the others `input`.)doc");
  m.def("binary_forward", &binary_forward_binding, py::arg("a"), py::arg("b"), py::arg("op"),
        R"doc(a op b (add, sub, mul, div) on float32 arrays with numpy broadcasting.)doc");
  m.def("binary_backward", &binary_backward_binding, py::arg("grad_output"), py::arg("a"), py::arg("b"),
        py::arg("op"), py::arg("need_a") = true, py::arg("need_b") = true,
        R"doc(Gradients (da, db) of binary_forward, each summed back to its operand's shape (None when not needed).
For add and sub, a and b may be given as their shapes.)doc");
}

}  // namespace sk::bind
