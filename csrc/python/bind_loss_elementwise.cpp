// _C.bce_with_logits_forward / _backward, _C.mse_forward / _backward: element-wise losses over float32 arrays of
// any shape with reduction 'none', 'sum' or 'mean' (the kernels are documented in seqkernels/loss.h).
#include <string>

#include "kernel_args.h"
#include "seqkernels/loss.h"

namespace sk::bind {
namespace {

enum class Reduction { none, sum, mean };

Reduction parse_reduction(const std::string& r, const char* op) {
  if (r == "none") return Reduction::none;
  if (r == "sum") return Reduction::sum;
  if (r == "mean") return Reduction::mean;
  throw py::value_error(std::string(op) + ": argument 'reduction' must be 'none', 'mean' or 'sum', got '" + r + "'");
}

// The loss array for 'none', else a 0-d array holding the sum or mean of the double-precision total.
py::object reduced(const FloatArray& loss, double total, int64_t n, Reduction r) {
  if (r == Reduction::none) return loss;
  FloatArray out = empty_float32({});
  out.mutable_data()[0] = static_cast<float>(r == Reduction::mean ? total / static_cast<double>(n) : total);
  return out;
}

// dy for the backward kernels: the loss-shaped gradient ('none', stride 1) or one value (stride 0), divided by n
// for 'mean'. `storage` keeps the scaled value alive.
const float* upstream(const FloatArray& dy, const std::vector<int64_t>& shape, int64_t n, Reduction r,
                      float& storage, int64_t& stride, const char* op) {
  if (r == Reduction::none) {
    check_shape(dy, shape, op, "grad_output");
    stride = 1;
    return dy.data();
  }
  if (dy.size() != 1)
    throw py::value_error(std::string(op) + ": argument 'grad_output' of a reduced loss must hold one value, got shape " +
                          shape_str(dy));
  storage = dy.data()[0] / (r == Reduction::mean ? static_cast<float>(n) : 1.0f);
  stride = 0;
  return &storage;
}

struct BceInputs {
  FloatArray x, target;
  std::optional<FloatArray> weight, pos_weight;
  int64_t classes;
};

BceInputs bce_inputs(py::handle x_obj, py::handle t_obj, py::handle w_obj, py::handle pw_obj, const char* op) {
  BceInputs in{float32_array(x_obj, op, "input"), float32_array(t_obj, op, "target"), std::nullopt, std::nullopt, 1};
  check_same_shape(in.x, in.target, op, "target");
  in.weight = optional_array(w_obj, shape_of(in.x), op, "weight");
  in.classes = in.x.ndim() == 0 ? 1 : in.x.shape(in.x.ndim() - 1);
  in.pos_weight = optional_vector(pw_obj, in.classes, op, "pos_weight");
  return in;
}

py::object bce_forward(py::handle x, py::handle t, py::handle w, py::handle pw, const std::string& reduction) {
  const char* op = "binary_cross_entropy_with_logits";
  const Reduction r = parse_reduction(reduction, op);
  BceInputs in = bce_inputs(x, t, w, pw, op);
  FloatArray loss = empty_float32(r == Reduction::none ? shape_of(in.x) : std::vector<int64_t>{0});
  float* lp = r == Reduction::none ? loss.mutable_data() : nullptr;
  double total = 0.0;
  {
    py::gil_scoped_release release;
    bce_with_logits_forward(lp, &total, in.x.data(), in.target.data(), data_or_null(in.weight),
                            data_or_null(in.pos_weight), in.x.size(), in.classes);
  }
  return reduced(loss, total, in.x.size(), r);
}

py::tuple bce_backward(py::handle dy_obj, py::handle x, py::handle t, py::handle w, py::handle pw,
                       const std::string& reduction, bool need_input, bool need_target) {
  const char* op = "binary_cross_entropy_with_logits_backward";
  const Reduction r = parse_reduction(reduction, op);
  BceInputs in = bce_inputs(x, t, w, pw, op);
  FloatArray dy = float32_array(dy_obj, op, "grad_output");
  float scaled = 0.0f;
  int64_t stride = 0;
  const float* g = upstream(dy, shape_of(in.x), in.x.size(), r, scaled, stride, op);
  py::object dx, dt;
  float* dxp = optional_output(need_input, shape_of(in.x), dx);
  float* dtp = optional_output(need_target, shape_of(in.x), dt);
  {
    py::gil_scoped_release release;
    bce_with_logits_backward(dxp, dtp, g, stride, in.x.data(), in.target.data(), data_or_null(in.weight),
                             data_or_null(in.pos_weight), in.x.size(), in.classes);
  }
  return py::make_tuple(dx, dt);
}

py::object mse_forward_binding(py::handle x_obj, py::handle t_obj, const std::string& reduction) {
  const char* op = "mse_loss";
  const Reduction r = parse_reduction(reduction, op);
  FloatArray x = float32_array(x_obj, op, "input"), t = float32_array(t_obj, op, "target");
  check_same_shape(x, t, op, "target");
  FloatArray loss = empty_float32(r == Reduction::none ? shape_of(x) : std::vector<int64_t>{0});
  float* lp = r == Reduction::none ? loss.mutable_data() : nullptr;
  double total = 0.0;
  {
    py::gil_scoped_release release;
    mse_forward(lp, &total, x.data(), t.data(), x.size());
  }
  return reduced(loss, total, x.size(), r);
}

py::tuple mse_backward_binding(py::handle dy_obj, py::handle x_obj, py::handle t_obj, const std::string& reduction,
                               bool need_input, bool need_target) {
  const char* op = "mse_loss_backward";
  const Reduction r = parse_reduction(reduction, op);
  FloatArray x = float32_array(x_obj, op, "input"), t = float32_array(t_obj, op, "target");
  check_same_shape(x, t, op, "target");
  FloatArray dy = float32_array(dy_obj, op, "grad_output");
  float scaled = 0.0f;
  int64_t stride = 0;
  const float* g = upstream(dy, shape_of(x), x.size(), r, scaled, stride, op);
  py::object dx, dt;
  float* dxp = optional_output(need_input, shape_of(x), dx);
  float* dtp = optional_output(need_target, shape_of(x), dt);
  {
    py::gil_scoped_release release;
    mse_backward(dxp, dtp, g, stride, x.data(), t.data(), x.size());
  }
  return py::make_tuple(dx, dt);
}

}  // namespace

SK_REGISTER_BINDINGS(loss_elementwise) {
  m.def("bce_with_logits_forward", &bce_forward, py::arg("input"), py::arg("target"), py::arg("weight") = py::none(),
        py::arg("pos_weight") = py::none(), py::arg("reduction") = "mean",
        R"doc(torch's binary_cross_entropy_with_logits: weight of input's shape or None, pos_weight over the last dim
or None; the loss array ('none') or a 0-d array ('mean', 'sum', summed in double).)doc");
  m.def("bce_with_logits_backward", &bce_backward, py::arg("grad_output"), py::arg("input"), py::arg("target"),
        py::arg("weight") = py::none(), py::arg("pos_weight") = py::none(), py::arg("reduction") = "mean",
        py::arg("need_input") = true, py::arg("need_target") = false,
        "(d input, d target) of bce_with_logits_forward, None where not needed.");
  m.def("mse_forward", &mse_forward_binding, py::arg("input"), py::arg("target"), py::arg("reduction") = "mean",
        "torch's mse_loss: the loss array ('none') or a 0-d array ('mean', 'sum', summed in double).");
  m.def("mse_backward", &mse_backward_binding, py::arg("grad_output"), py::arg("input"), py::arg("target"),
        py::arg("reduction") = "mean", py::arg("need_input") = true, py::arg("need_target") = false,
        "(d input, d target) of mse_forward, None where not needed.");
}

}  // namespace sk::bind
