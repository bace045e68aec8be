// _C.layer_norm_forward / _C.layer_norm_backward over (rows, dim) float32 matrices.
#include "kernel_args.h"
#include "seqkernels/norm.h"

namespace sk::bind {
namespace {

py::tuple forward(py::handle x_obj, py::handle weight_obj, py::handle bias_obj, float eps) {
  const char* op = "layer_norm";
  FloatArray x = float32_array(x_obj, op, "input");
  check_ndim(x, 2, op, "input");
  const int64_t rows = x.shape(0), dim = x.shape(1);
  auto weight = optional_vector(weight_obj, dim, op, "weight");
  auto bias = optional_vector(bias_obj, dim, op, "bias");
  FloatArray y = empty_float32({rows, dim}), mean = empty_float32({rows}), rstd = empty_float32({rows});
  float *yp = y.mutable_data(), *mp = mean.mutable_data(), *rp = rstd.mutable_data();
  {
    py::gil_scoped_release release;
    layer_norm_forward(yp, mp, rp, x.data(), data_or_null(weight), data_or_null(bias), rows, dim, eps);
  }
  return py::make_tuple(y, mean, rstd);
}

py::tuple backward(py::handle dy_obj, py::handle x_obj, py::handle weight_obj, py::handle mean_obj,
                              py::handle rstd_obj, bool weight_grad, bool bias_grad) {
  const char* op = "layer_norm_backward";
  FloatArray x = float32_array(x_obj, op, "input");
  check_ndim(x, 2, op, "input");
  const int64_t rows = x.shape(0), dim = x.shape(1);
  FloatArray dy = float32_array(dy_obj, op, "grad_output");
  check_same_shape(x, dy, op, "grad_output");
  auto weight = optional_vector(weight_obj, dim, op, "weight");
  FloatArray mean = float32_array(mean_obj, op, "mean"), rstd = float32_array(rstd_obj, op, "rstd");
  check_shape(mean, {rows}, op, "mean");
  check_shape(rstd, {rows}, op, "rstd");
  FloatArray dx = empty_float32({rows, dim});
  py::object dweight, dbias;
  float* dwp = optional_output(weight_grad, {dim}, dweight);
  float* dbp = optional_output(bias_grad, {dim}, dbias);
  float* dxp = dx.mutable_data();
  {
    py::gil_scoped_release release;
    layer_norm_backward(dxp, dwp, dbp, dy.data(), x.data(), mean.data(), rstd.data(), data_or_null(weight), rows, dim);
  }
  return py::make_tuple(dx, dweight, dbias);
}

}  // namespace

SK_REGISTER_BINDINGS(norm) {
  m.def("layer_norm_forward", &forward, py::arg("input"), py::arg("weight"), py::arg("bias"),
        py::arg("eps"), "Layer norm over the last dim of a (rows, dim) float32 matrix -> (y, mean, rstd).");
  m.def("layer_norm_backward", &backward, py::arg("grad_output"), py::arg("input"), py::arg("weight"),
        py::arg("mean"), py::arg("rstd"), py::arg("weight_grad"), py::arg("bias_grad"),
        "-> (grad_input, grad_weight or None, grad_bias or None).");
}

}  // namespace sk::bind
