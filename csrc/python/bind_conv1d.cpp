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
Conv1dShape conv_shape(const py::array& x, const py::array& w, int64_t stride, Padding padding, int64_t dilation,
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
  checked_product({s.batch, checked_add(padded, s.kernel_size, op, "the padded length + kernel_size"),
                   std::max(s.in_channels, s.out_channels)},
                  op, "the channels-last workspace size");
  return s;
}

// `obj` as an (N, C, L) float32 array stored channels last, i.e. the transpose (0, 2, 1) of an aligned
// C-contiguous (N, L, C) array (torch-style code's embedding(ids).transpose(1, 2), Keras' (N, steps, C)); else
// nothing. The window path reads such an array in place (and writes y and dx in the same layout).
std::optional<py::array> channels_last(py::handle obj) {
  if (!py::isinstance<py::array>(obj)) return std::nullopt;
  auto a = py::reinterpret_borrow<py::array>(obj);
  if (a.ndim() != 3 || !a.dtype().equal(py::dtype::of<float>()) || !is_aligned(a) ||
      (a.flags() & py::array::c_style))
    return std::nullopt;
  const py::ssize_t item = sizeof(float), c = a.shape(1), l = a.shape(2);
  if (a.strides(1) != item || a.strides(2) != item * c || a.strides(0) != item * c * l) return std::nullopt;
  return a;
}

// The (batch, channels, length) array to hand the kernel: a channels-last `view` in place when given, else
// `obj` as a C-contiguous copy or itself.
py::array kernel_operand(py::handle obj, const std::optional<py::array>& view, const char* op, const char* arg) {
  if (view) return *view;
  return float32_array(obj, op, arg);
}

// A new (batch, channels, length) float32 array, stored channels last when asked (a transposed view).
py::array new_array(int64_t batch, int64_t channels, int64_t length, bool channels_last) {
  if (!channels_last) return empty_float32({batch, channels, length});
  return empty_float32({batch, length, channels}).attr("transpose")(0, 2, 1);
}

const float* data_of(const py::array& a) { return static_cast<const float*>(a.data()); }
float* mutable_data_of(py::array& a) { return static_cast<float*>(a.mutable_data()); }

py::array conv1d_forward_binding(py::handle x_obj, py::handle w_obj, py::handle b_obj, int64_t stride,
                                 Padding padding, int64_t dilation, int64_t groups) {
  const char* op = "conv1d";
  FloatArray w = float32_array(w_obj, op, "weight");
  std::optional<py::array> x_view = channels_last(x_obj);
  py::array x = kernel_operand(x_obj, x_view, op, "input");
  Conv1dShape s = conv_shape(x, w, stride, padding, dilation, groups, op);
  if (x_view && !conv1d_window_path(s)) x_view.reset(), x = float32_array(x_obj, op, "input");
  s.input_channels_last = s.output_channels_last = x_view.has_value();
  const std::optional<FloatArray> b = optional_vector(b_obj, s.out_channels, op, "bias");
  py::array y = new_array(s.batch, s.out_channels, s.out_length(), s.output_channels_last);
  const float* bp = data_or_null(b);
  float* yp = mutable_data_of(y);
  if (y.size() == 0) return y;  // nothing to compute (an empty batch or no output channels)
  {
    py::gil_scoped_release release;
    conv1d_forward(yp, data_of(x), w.data(), bp, s);
  }
  return y;
}

py::tuple conv1d_backward_binding(py::handle x_obj, py::handle w_obj, py::handle dy_obj, int64_t stride,
                                  Padding padding, int64_t dilation, int64_t groups, bool input_grad, bool weight_grad,
                                  bool bias_grad) {
  const char* op = "conv1d_backward";
  FloatArray w = float32_array(w_obj, op, "weight");
  std::optional<py::array> x_view = channels_last(x_obj), dy_view = channels_last(dy_obj);
  py::array x = kernel_operand(x_obj, x_view, op, "input");
  Conv1dShape s = conv_shape(x, w, stride, padding, dilation, groups, op);
  if (!conv1d_window_path(s)) {
    if (x_view) x_view.reset(), x = float32_array(x_obj, op, "input");
    dy_view.reset();
  }
  s.input_channels_last = x_view.has_value();
  s.output_channels_last = dy_view.has_value();
  const py::array dy = kernel_operand(dy_obj, dy_view, op, "grad_output");
  check_shape(dy, {s.batch, s.out_channels, s.out_length()}, op, "grad_output");
  py::object dx = py::none(), dw, db;
  float* dxp = nullptr;
  if (input_grad) {
    py::array dx_array = new_array(s.batch, s.in_channels, s.length, s.input_channels_last);
    dxp = mutable_data_of(dx_array);
    dx = dx_array;
  }
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
    conv1d_backward(dxp, dwp, dbp, data_of(dy), data_of(x), w.data(), s);
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
Returns y (N, C_out, L_out) with L_out = (L + left + right - dilation*(K-1) - 1) // stride + 1. An input stored
channels last (the transpose (0, 2, 1) of a C-contiguous (N, L, C_in) array) is read in place where groups,
stride and dilation are 1, and y then comes back channels last too (a transposed view), as torch keeps a
convolution's memory format.)doc");
  m.def("conv1d_backward", &conv1d_backward_binding, py::arg("input"), py::arg("weight"), py::arg("grad_output"),
        py::kw_only(), py::arg("stride") = 1, py::arg("padding") = Padding{0, 0}, py::arg("dilation") = 1,
        py::arg("groups") = 1, py::arg("input_grad") = true, py::arg("weight_grad") = true,
        py::arg("bias_grad") = true,
        R"doc((grad_input, grad_weight, grad_bias) of conv1d given grad_output (N, C_out, L_out); each is None
when its flag is False. grad_input has the input's memory layout (channels last as in conv1d_forward).)doc");
}

}  // namespace sk::bind
