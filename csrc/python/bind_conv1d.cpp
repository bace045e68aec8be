// _C.conv1d_forward / _C.conv1d_backward: validate shapes and options, release the GIL, call sk::conv1d_*.
#include <pybind11/stl.h>

#include <algorithm>
#include <optional>

#include "binding_utils.h"
#include "kernel_args.h"
#include "seqkernels/conv1d.h"

namespace sk::bind {
namespace {

using Padding = std::pair<int64_t, int64_t>;  // (left, right)

void require(bool ok, const char* op, const std::string& message) {
  if (!ok) throw py::value_error(std::string(op) + ": " + message);
}

// Checks x (N, C_in, L) and w (C_out, C_in/groups, K) against the options and returns the geometry.
Conv1dShape conv_shape(const FloatArray& x, const FloatArray& w, int64_t stride, Padding padding, int64_t dilation,
                       int64_t groups, const char* op) {
  check_ndim(x, 3, op, "input");
  check_ndim(w, 3, op, "weight");
  require(stride >= 1, op, "argument 'stride' must be >= 1, got " + std::to_string(stride));
  require(dilation >= 1, op, "argument 'dilation' must be >= 1, got " + std::to_string(dilation));
  require(padding.first >= 0 && padding.second >= 0, op,
          "argument 'padding' must be >= 0, got (" + std::to_string(padding.first) + ", " +
              std::to_string(padding.second) + ")");
  require(groups >= 1, op, "argument 'groups' must be >= 1, got " + std::to_string(groups));
  Conv1dShape s{x.shape(0), x.shape(1), x.shape(2), w.shape(0), w.shape(2), stride, padding.first, padding.second,
                dilation, groups};
  require(groups <= std::max<int64_t>(s.in_channels, 1) && groups <= std::max<int64_t>(s.out_channels, 1), op,
          "argument 'groups' (" + std::to_string(groups) + ") must not exceed the input channels (" +
              std::to_string(s.in_channels) + ") or the output channels (" + std::to_string(s.out_channels) + ")");
  require(s.in_channels % groups == 0, op,
          "input channels " + std::to_string(s.in_channels) + " are not divisible by groups " + std::to_string(groups));
  require(s.out_channels % groups == 0, op,
          "weight out_channels " + std::to_string(s.out_channels) + " are not divisible by groups " +
              std::to_string(groups));
  require(s.kernel_size >= 1, op, "argument 'weight' must have kernel size >= 1, got shape " + shape_str(w));
  const int64_t weight_channels = checked_mul(w.shape(1), groups, op, "weight.shape[1] * groups");
  require(weight_channels == s.in_channels, op,
          "argument 'weight' of shape " + shape_str(w) + " expects " + std::to_string(weight_channels) +
              " input channels (weight.shape[1] * groups), but 'input' of shape " + shape_str(x) + " has " +
              std::to_string(s.in_channels));
  // Every size the kernel derives, checked: the padded length, the dilated kernel's span, and the im2col
  // workspace (C_in/groups * K) x L_out.
  const int64_t padded = checked_add(checked_add(s.length, s.pad_left, op, "input length + padding"), s.pad_right, op,
                                     "input length + padding");
  const int64_t span = checked_add(checked_mul(dilation, s.kernel_size - 1, op, "dilation * (kernel_size - 1)"), 1, op,
                                   "the dilated kernel size");
  require(padded >= span, op,
          "padded input length " + std::to_string(padded) + " is shorter than the dilated kernel size " +
              std::to_string(span));
  checked_product({s.in_channels / groups, s.kernel_size, s.out_length()}, op, "the im2col workspace size");
  return s;
}

FloatArray conv1d_forward_binding(py::handle x_obj, py::handle w_obj, py::handle b_obj, int64_t stride,
                                  Padding padding, int64_t dilation, int64_t groups) {
  const char* op = "conv1d";
  FloatArray x = float32_array(x_obj, op, "input"), w = float32_array(w_obj, op, "weight");
  const Conv1dShape s = conv_shape(x, w, stride, padding, dilation, groups, op);
  const std::optional<FloatArray> b = optional_vector(b_obj, s.out_channels, op, "bias");
  FloatArray y = empty_float32({s.batch, s.out_channels, s.out_length()});
  const float* bp = data_or_null(b);
  float* yp = y.mutable_data();
  if (y.size() == 0) return y;  // nothing to compute (an empty batch or no output channels)
  {
    py::gil_scoped_release release;
    conv1d_forward(yp, x.data(), w.data(), bp, s);
  }
  return y;
}

py::tuple conv1d_backward_binding(py::handle x_obj, py::handle w_obj, py::handle dy_obj, int64_t stride,
                                  Padding padding, int64_t dilation, int64_t groups, bool input_grad, bool weight_grad,
                                  bool bias_grad) {
  const char* op = "conv1d_backward";
  FloatArray x = float32_array(x_obj, op, "input"), w = float32_array(w_obj, op, "weight");
  FloatArray dy = float32_array(dy_obj, op, "grad_output");
  const Conv1dShape s = conv_shape(x, w, stride, padding, dilation, groups, op);
  check_shape(dy, {s.batch, s.out_channels, s.out_length()}, op, "grad_output");
  py::object dx, dw, db;
  float* dxp = optional_output(input_grad, {s.batch, s.in_channels, s.length}, dx);
  float* dwp = optional_output(weight_grad, {s.out_channels, s.in_channels / s.groups, s.kernel_size}, dw);
  float* dbp = optional_output(bias_grad, {s.out_channels}, db);
  if (dy.size() == 0 || x.size() == 0) {  // nothing flows: every gradient is zero
    if (dxp) std::fill(dxp, dxp + x.size(), 0.0f);
    if (dwp) std::fill(dwp, dwp + w.size(), 0.0f);
    if (dbp) std::fill(dbp, dbp + s.out_channels, 0.0f);
    return py::make_tuple(dx, dw, db);
  }
  {
    py::gil_scoped_release release;
    conv1d_backward(dxp, dwp, dbp, dy.data(), x.data(), w.data(), s);
  }
  return py::make_tuple(dx, dw, db);
}

}  // namespace

SK_REGISTER_BINDINGS(conv1d) {
  m.def("conv1d_forward", &conv1d_forward_binding, py::arg("input"), py::arg("weight"), py::arg("bias") = py::none(),
        py::kw_only(), py::arg("stride") = 1, py::arg("padding") = Padding{0, 0}, py::arg("dilation") = 1,
        py::arg("groups") = 1,
        R"doc(y = conv1d(input, weight) + bias, float32, torch.nn.functional.conv1d semantics.

input (N, C_in, L), weight (C_out, C_in/groups, K), bias (C_out,) or None; padding is (left, right) zeros.
Returns y (N, C_out, L_out) with L_out = (L + left + right - dilation*(K-1) - 1) // stride + 1.)doc");
  m.def("conv1d_backward", &conv1d_backward_binding, py::arg("input"), py::arg("weight"), py::arg("grad_output"),
        py::kw_only(), py::arg("stride") = 1, py::arg("padding") = Padding{0, 0}, py::arg("dilation") = 1,
        py::arg("groups") = 1, py::arg("input_grad") = true, py::arg("weight_grad") = true,
        py::arg("bias_grad") = true,
        R"doc((grad_input, grad_weight, grad_bias) of conv1d given grad_output (N, C_out, L_out); each is None
when its flag is False.)doc");
}

}  // namespace sk::bind
