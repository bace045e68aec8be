// _C.max_pool1d_forward / _backward, _C.avg_pool1d_forward / _backward: pooling over the last dim of a float32
// array (the kernels are documented in seqkernels/pooling.h; out_length comes from the caller, which applies
// torch's floor / ceil mode rules).
#include <string>

#include "kernel_args.h"
#include "seqkernels/pooling.h"

namespace sk::bind {
namespace {

using IndexArray = py::array_t<int64_t, py::array::c_style>;

Pool1dShape pool_shape(const std::vector<int64_t>& in_shape, int64_t kernel_size, int64_t stride, int64_t padding,
                       int64_t dilation, int64_t out_length, const char* op) {
  if (in_shape.empty()) throw py::value_error(std::string(op) + ": argument 'input' must have at least 1 dim");
  if (kernel_size < 1 || stride < 1 || dilation < 1 || padding < 0 || out_length < 0)
    throw py::value_error(std::string(op) + ": kernel_size, stride, dilation must be >= 1 and padding, out_length >= 0");
  Pool1dShape s;
  s.length = in_shape.back();
  s.rows = checked_product(std::vector<int64_t>(in_shape.begin(), in_shape.end() - 1), op, "the row count");
  s.out_length = out_length;
  s.kernel_size = kernel_size;
  s.stride = stride;
  s.padding = padding;
  s.dilation = dilation;
  // Every window needs a tap inside the row: its first tap at or before the row's end, its last at or after 0.
  const int64_t last_start = checked_mul(out_length > 0 ? out_length - 1 : 0, stride, op, "the last window's start");
  const int64_t span = checked_mul(kernel_size - 1, dilation, op, "the window's span");
  if (out_length > 0 && (last_start - padding >= s.length || span - padding < 0 || s.length == 0))
    throw py::value_error(std::string(op) + ": a pooling window would lie entirely in the padding");
  return s;
}

std::vector<int64_t> with_last(std::vector<int64_t> shape, int64_t last) {
  shape.back() = last;
  return shape;
}

py::tuple max_forward_binding(py::handle x_obj, int64_t kernel_size, int64_t stride, int64_t padding, int64_t dilation,
                              int64_t out_length) {
  const char* op = "max_pool1d";
  FloatArray x = float32_array(x_obj, op, "input");
  const Pool1dShape s = pool_shape(shape_of(x), kernel_size, stride, padding, dilation, out_length, op);
  const std::vector<int64_t> out_shape = with_last(shape_of(x), out_length);
  FloatArray y = empty_float32(out_shape);
  IndexArray idx = empty_int64(out_shape);
  float* yp = y.mutable_data();
  int64_t* ip = idx.mutable_data();
  {
    py::gil_scoped_release release;
    max_pool1d_forward(yp, ip, x.data(), s);
  }
  return py::make_tuple(y, idx);
}

FloatArray max_backward_binding(py::handle dy_obj, py::handle indices_obj, int64_t length) {
  const char* op = "max_pool1d_backward";
  FloatArray dy = float32_array(dy_obj, op, "grad_output");
  if (dy.ndim() < 1) throw py::value_error(std::string(op) + ": argument 'grad_output' must have at least 1 dim");
  IndexArray idx = index_array(indices_obj, op, "indices");
  check_same_shape(dy, idx, op, "indices");
  Pool1dShape s;
  s.out_length = dy.shape(dy.ndim() - 1);
  s.rows = s.out_length == 0 ? 0 : dy.size() / s.out_length;
  s.length = length;
  const int64_t* ip = idx.data();
  for (int64_t i = 0; i < idx.size(); ++i)
    if (ip[i] < 0 || ip[i] >= length)
      throw py::index_error(std::string(op) + ": index " + std::to_string(ip[i]) + " is out of range for length " +
                            std::to_string(length));
  FloatArray dx = empty_float32(with_last(shape_of(dy), length));
  float* dxp = dx.mutable_data();
  py::gil_scoped_release release;
  max_pool1d_backward(dxp, dy.data(), ip, s);
  return dx;
}

FloatArray avg_forward_binding(py::handle x_obj, int64_t kernel_size, int64_t stride, int64_t padding,
                               int64_t out_length, bool count_include_pad, int64_t divisor_override) {
  const char* op = "avg_pool1d";
  FloatArray x = float32_array(x_obj, op, "input");
  const Pool1dShape s = pool_shape(shape_of(x), kernel_size, stride, padding, 1, out_length, op);
  FloatArray y = empty_float32(with_last(shape_of(x), out_length));
  float* yp = y.mutable_data();
  py::gil_scoped_release release;
  avg_pool1d_forward(yp, x.data(), s, count_include_pad, divisor_override);
  return y;
}

FloatArray avg_backward_binding(py::handle dy_obj, int64_t length, int64_t kernel_size, int64_t stride,
                                int64_t padding, bool count_include_pad, int64_t divisor_override) {
  const char* op = "avg_pool1d_backward";
  FloatArray dy = float32_array(dy_obj, op, "grad_output");
  if (dy.ndim() < 1) throw py::value_error(std::string(op) + ": argument 'grad_output' must have at least 1 dim");
  const std::vector<int64_t> in_shape = with_last(shape_of(dy), length);
  const Pool1dShape s = pool_shape(in_shape, kernel_size, stride, padding, 1, dy.shape(dy.ndim() - 1), op);
  FloatArray dx = empty_float32(in_shape);
  float* dxp = dx.mutable_data();
  py::gil_scoped_release release;
  avg_pool1d_backward(dxp, dy.data(), s, count_include_pad, divisor_override);
  return dx;
}

}  // namespace

SK_REGISTER_BINDINGS(pooling) {
  m.def("max_pool1d_forward", &max_forward_binding, py::arg("input"), py::arg("kernel_size"), py::arg("stride"),
        py::arg("padding"), py::arg("dilation"), py::arg("out_length"),
        "(values, indices) of 1-D max pooling over the last dim; indices are positions in that dim.");
  m.def("max_pool1d_backward", &max_backward_binding, py::arg("grad_output"), py::arg("indices"), py::arg("length"),
        "Gradient of max_pool1d_forward: grad_output added at the indices of rows of `length`.");
  m.def("avg_pool1d_forward", &avg_forward_binding, py::arg("input"), py::arg("kernel_size"), py::arg("stride"),
        py::arg("padding"), py::arg("out_length"), py::arg("count_include_pad") = true,
        py::arg("divisor_override") = 0, "1-D average pooling over the last dim (torch's divisor rules).");
  m.def("avg_pool1d_backward", &avg_backward_binding, py::arg("grad_output"), py::arg("length"),
        py::arg("kernel_size"), py::arg("stride"), py::arg("padding"), py::arg("count_include_pad") = true,
        py::arg("divisor_override") = 0, "Gradient of avg_pool1d_forward for rows of `length`.");
}

}  // namespace sk::bind
