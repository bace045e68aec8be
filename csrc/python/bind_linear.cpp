// _C.linear_forward / _C.linear_backward: y = x W^T + b for x (M, K), W (N, K), b (N).
#include <string>

#include "kernel_args.h"
#include "seqkernels/linear.h"

namespace sk::bind {
namespace {

void check_weight(const FloatArray& x, const FloatArray& weight, const char* op) {
  check_ndim(weight, 2, op, "weight");
  if (weight.shape(1) != x.shape(1))
    throw py::value_error(std::string(op) + ": input " + shape_str(x) + " has " + std::to_string(x.shape(1)) +
                          " features but weight " + shape_str(weight) + " expects " + std::to_string(weight.shape(1)));
}

FloatArray forward(py::handle x_obj, py::handle weight_obj, py::handle bias_obj) {
  const char* op = "linear";
  FloatArray x = float32_array(x_obj, op, "input"), weight = float32_array(weight_obj, op, "weight");
  check_ndim(x, 2, op, "input");
  check_weight(x, weight, op);
  const int64_t M = x.shape(0), K = x.shape(1), N = weight.shape(0);
  auto bias = optional_vector(bias_obj, N, op, "bias");
  FloatArray y = empty_float32({M, N});
  float* yp = y.mutable_data();
  py::gil_scoped_release release;
  linear_forward(yp, x.data(), weight.data(), data_or_null(bias), M, N, K);
  return y;
}

py::tuple backward(py::handle dy_obj, py::handle x_obj, py::handle weight_obj, bool input_grad, bool weight_grad,
                   bool bias_grad) {
  const char* op = "linear_backward";
  FloatArray x = float32_array(x_obj, op, "input"), weight = float32_array(weight_obj, op, "weight");
  check_ndim(x, 2, op, "input");
  check_weight(x, weight, op);
  const int64_t M = x.shape(0), K = x.shape(1), N = weight.shape(0);
  FloatArray dy = float32_array(dy_obj, op, "grad_output");
  check_shape(dy, {M, N}, op, "grad_output");
  py::object dx, dweight, dbias;
  float* dxp = optional_output(input_grad, {M, K}, dx);
  float* dwp = optional_output(weight_grad, {N, K}, dweight);
  float* dbp = optional_output(bias_grad, {N}, dbias);
  {
    py::gil_scoped_release release;
    linear_backward(dxp, dwp, dbp, dy.data(), x.data(), weight.data(), M, N, K);
  }
  return py::make_tuple(dx, dweight, dbias);
}

}  // namespace

SK_REGISTER_BINDINGS(linear) {
  m.def("linear_forward", &forward, py::arg("input"), py::arg("weight"), py::arg("bias"),
        "input (M, K) @ weight (N, K)^T + bias (N) -> (M, N), float32, on the seqkernels GEMM.");
  m.def("linear_backward", &backward, py::arg("grad_output"), py::arg("input"), py::arg("weight"),
        py::arg("input_grad"), py::arg("weight_grad"), py::arg("bias_grad"),
        "-> (grad_input, grad_weight, grad_bias), each None unless requested.");
}

}  // namespace sk::bind
