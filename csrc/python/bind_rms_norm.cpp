// _C.rms_norm_forward / _C.rms_norm_backward over (rows, dim) float32 matrices.
#include "kernel_args.h"
#include "seqkernels/rms_norm.h"

namespace sk::bind {
namespace {

py::tuple forward(py::handle x_obj, py::handle weight_obj, float eps) {
  const char* op = "rms_norm";
  FloatArray x = float32_array(x_obj, op, "input");
  check_ndim(x, 2, op, "input");
  const RmsNormSizes sizes{x.shape(0), x.shape(1), eps};
  if (!(eps >= 0.0f)) throw py::value_error("rms_norm: argument 'eps' must be >= 0, got " + std::to_string(eps));
  auto weight = optional_vector(weight_obj, sizes.dim, op, "weight");
  FloatArray y = empty_float32({sizes.rows, sizes.dim}), rstd = empty_float32({sizes.rows});
  float *yp = y.mutable_data(), *rp = rstd.mutable_data();
  {
    py::gil_scoped_release release;
    rms_norm_forward(yp, rp, x.data(), data_or_null(weight), sizes);
  }
  return py::make_tuple(y, rstd);
}

py::tuple backward(py::handle dy_obj, py::handle x_obj, py::handle rstd_obj, py::handle weight_obj, bool weight_grad) {
  const char* op = "rms_norm_backward";
  FloatArray x = float32_array(x_obj, op, "input");
  check_ndim(x, 2, op, "input");
  const RmsNormSizes sizes{x.shape(0), x.shape(1), 0.0f};
  FloatArray dy = float32_array(dy_obj, op, "grad_output");
  check_same_shape(x, dy, op, "grad_output");
  FloatArray rstd = float32_array(rstd_obj, op, "rstd");
  check_shape(rstd, {sizes.rows}, op, "rstd");
  auto weight = optional_vector(weight_obj, sizes.dim, op, "weight");
  FloatArray dx = empty_float32({sizes.rows, sizes.dim});
  py::object dweight;
  float* dwp = optional_output(weight_grad, {sizes.dim}, dweight);
  float* dxp = dx.mutable_data();
  {
    py::gil_scoped_release release;
    rms_norm_backward(dxp, dwp, dy.data(), x.data(), rstd.data(), data_or_null(weight), sizes);
  }
  return py::make_tuple(dx, dweight);
}

}  // namespace

SK_REGISTER_BINDINGS(rms_norm) {
  m.def("rms_norm_forward", &forward, py::arg("input"), py::arg("weight"), py::arg("eps"),
        "RMS norm over the last dim of a (rows, dim) float32 matrix -> (y, rstd).");
  m.def("rms_norm_backward", &backward, py::arg("grad_output"), py::arg("input"), py::arg("rstd"),
        py::arg("weight"), py::arg("weight_grad"), "-> (grad_input, grad_weight or None).");
}

}  // namespace sk::bind
