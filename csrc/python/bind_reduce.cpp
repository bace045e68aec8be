// _C.sum_forward / _C.sum_backward, _C.max_forward / _C.max_backward / _C.amax_backward: reductions over one
// dim of a float32 array (the kernels are documented in seqkernels/reduce.h).
#include <pybind11/stl.h>

#include <cmath>
#include <string>

#include "kernel_args.h"
#include "seqkernels/reduce.h"

namespace sk::bind {
namespace {

using IndexArray = py::array_t<int64_t, py::array::c_style>;

// `dim` (negative counts from the end) of `shape`, as the (outer, dim, inner) view.
ReduceShape view_of(const std::vector<int64_t>& shape, int64_t dim, const char* op) {
  const int64_t ndim = static_cast<int64_t>(shape.size());
  if (dim < -ndim || dim >= ndim || ndim == 0)
    throw py::index_error(std::string(op) + ": argument 'dim' (" + std::to_string(dim) + ") is out of range for " +
                          std::to_string(ndim) + " dims");
  if (dim < 0) dim += ndim;
  array_shape(shape, sizeof(float));  // no negative dim, and the whole array fits in memory
  ReduceShape s;
  s.outer = checked_product(std::vector<int64_t>(shape.begin(), shape.begin() + dim), op, "the outer size");
  s.dim = shape[dim];
  s.inner = checked_product(std::vector<int64_t>(shape.begin() + dim + 1, shape.end()), op, "the inner size");
  return s;
}

std::vector<int64_t> without(std::vector<int64_t> shape, int64_t dim) {
  if (dim < 0) dim += static_cast<int64_t>(shape.size());
  shape.erase(shape.begin() + dim);
  return shape;
}

FloatArray sum_forward_binding(py::handle x_obj, int64_t dim, bool mean) {
  const char* op = mean ? "mean" : "sum";
  FloatArray x = float32_array(x_obj, op, "input");
  const ReduceShape s = view_of(shape_of(x), dim, op);
  FloatArray y = empty_float32(without(shape_of(x), dim));
  float* yp = y.mutable_data();
  py::gil_scoped_release release;
  sum_forward(yp, x.data(), s, mean);
  return y;
}

FloatArray sum_backward_binding(py::handle dy_obj, const std::vector<int64_t>& shape, int64_t dim, bool mean) {
  const char* op = mean ? "mean_backward" : "sum_backward";
  const ReduceShape s = view_of(shape, dim, op);
  FloatArray dy = float32_array(dy_obj, op, "grad_output");
  check_shape(dy, without(shape, dim), op, "grad_output");
  FloatArray dx = empty_float32(shape);
  float* dxp = dx.mutable_data();
  py::gil_scoped_release release;
  sum_backward(dxp, dy.data(), s, mean);
  return dx;
}

py::tuple max_forward_binding(py::handle x_obj, int64_t dim, bool indices) {
  const char* op = "max";
  FloatArray x = float32_array(x_obj, op, "input");
  const ReduceShape s = view_of(shape_of(x), dim, op);
  if (s.dim == 0)
    throw py::value_error(std::string(op) + ": cannot reduce over dim " + std::to_string(dim) + " of size 0");
  const std::vector<int64_t> out_shape = without(shape_of(x), dim);
  FloatArray y = empty_float32(out_shape);
  py::object idx = py::none();
  int64_t* ip = nullptr;
  if (indices) {
    IndexArray a = empty_int64(out_shape);
    ip = a.mutable_data();
    idx = a;
  }
  float* yp = y.mutable_data();
  {
    py::gil_scoped_release release;
    max_forward(yp, ip, x.data(), s);
  }
  return py::make_tuple(y, idx);
}

FloatArray max_backward_binding(py::handle dy_obj, py::handle indices_obj, const std::vector<int64_t>& shape,
                                int64_t dim) {
  const char* op = "max_backward";
  const ReduceShape s = view_of(shape, dim, op);
  FloatArray dy = float32_array(dy_obj, op, "grad_output");
  const std::vector<int64_t> out_shape = without(shape, dim);
  check_shape(dy, out_shape, op, "grad_output");
  IndexArray idx = index_array(indices_obj, op, "indices");
  check_shape(idx, out_shape, op, "indices");
  const int64_t* ip = idx.data();
  for (int64_t i = 0; i < idx.size(); ++i)
    if (ip[i] < 0 || ip[i] >= s.dim)
      throw py::index_error(std::string(op) + ": index " + std::to_string(ip[i]) + " is out of range for a dim of " +
                            std::to_string(s.dim));
  FloatArray dx = empty_float32(shape);
  float* dxp = dx.mutable_data();
  py::gil_scoped_release release;
  max_backward(dxp, dy.data(), ip, s);
  return dx;
}

FloatArray amax_backward_binding(py::handle dy_obj, py::handle x_obj, py::handle y_obj, int64_t dim) {
  const char* op = "amax_backward";
  FloatArray x = float32_array(x_obj, op, "input");
  const ReduceShape s = view_of(shape_of(x), dim, op);
  const std::vector<int64_t> out_shape = without(shape_of(x), dim);
  FloatArray y = float32_array(y_obj, op, "output"), dy = float32_array(dy_obj, op, "grad_output");
  check_shape(y, out_shape, op, "output");
  check_shape(dy, out_shape, op, "grad_output");
  FloatArray dx = empty_float32(shape_of(x));
  float* dxp = dx.mutable_data();
  py::gil_scoped_release release;
  amax_backward(dxp, dy.data(), x.data(), y.data(), s);
  return dx;
}

}  // namespace

SK_REGISTER_BINDINGS(reduce) {
  m.def("sum_forward", &sum_forward_binding, py::arg("input"), py::arg("dim"), py::arg("mean") = false,
        "Sum (mean) of a float32 array over one dim, which is removed from the shape.");
  m.def("sum_backward", &sum_backward_binding, py::arg("grad_output"), py::arg("shape"), py::arg("dim"),
        py::arg("mean") = false, "grad_output broadcast back over `dim` of `shape` (divided by its size for mean).");
  m.def("max_forward", &max_forward_binding, py::arg("input"), py::arg("dim"), py::arg("indices") = true,
        "(values, indices) of the max over one dim (indices None when not wanted): torch.max(input, dim).");
  m.def("max_backward", &max_backward_binding, py::arg("grad_output"), py::arg("indices"), py::arg("shape"),
        py::arg("dim"), "grad_output placed at the max's indices, zeros elsewhere.");
  m.def("amax_backward", &amax_backward_binding, py::arg("grad_output"), py::arg("input"), py::arg("output"),
        py::arg("dim"), "Gradient of amax: grad_output split evenly over the positions equal to the max.");
}

}  // namespace sk::bind
