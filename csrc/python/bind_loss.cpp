// _C.cross_entropy_forward / _C.cross_entropy_backward: fused softmax cross-entropy over (rows, classes).
#include <string>

#include "kernel_args.h"
#include "seqkernels/loss.h"

namespace sk::bind {
namespace {

using IndexArray = py::array_t<int64_t, py::array::c_style>;

struct Checked {
  FloatArray logits;
  IndexArray target;
  std::optional<FloatArray> weight;
  int64_t rows, classes;
};

Checked check_inputs(const char* op, py::handle logits_obj, py::handle target_obj, py::handle weight_obj,
                     int64_t ignore_index, float label_smoothing) {
  FloatArray logits = float32_array(logits_obj, op, "input");
  check_ndim(logits, 2, op, "input");
  const int64_t rows = logits.shape(0), classes = logits.shape(1);
  IndexArray target = index_array(target_obj, op, "target");
  check_shape(target, {rows}, op, "target");
  auto weight = optional_vector(weight_obj, classes, op, "weight");
  if (!(label_smoothing >= 0.0f && label_smoothing <= 1.0f))
    throw py::value_error(std::string(op) + ": argument 'label_smoothing' must be in [0, 1], got " +
                          std::to_string(label_smoothing));
  const int64_t* t = target.data();
  for (int64_t i = 0; i < rows; ++i)
    if (t[i] != ignore_index && (t[i] < 0 || t[i] >= classes))
      throw py::index_error(std::string(op) + ": target " + std::to_string(t[i]) + " is out of bounds for " +
                            std::to_string(classes) + " classes (valid: 0.." + std::to_string(classes - 1) +
                            ", or ignore_index " + std::to_string(ignore_index) + ")");
  return {logits, target, weight, rows, classes};
}

py::tuple forward(py::handle logits_obj, py::handle target_obj, py::handle weight_obj, int64_t ignore_index,
                  float label_smoothing) {
  Checked in = check_inputs("cross_entropy", logits_obj, target_obj, weight_obj, ignore_index, label_smoothing);
  FloatArray loss = empty_float32({in.rows}), lse = empty_float32({in.rows});
  float *lp = loss.mutable_data(), *sp = lse.mutable_data();
  double loss_sum = 0.0, weight_sum = 0.0;
  {
    py::gil_scoped_release release;
    cross_entropy_forward(lp, sp, &loss_sum, &weight_sum, in.logits.data(), in.target.data(), data_or_null(in.weight),
                          in.rows, in.classes, ignore_index, label_smoothing);
  }
  return py::make_tuple(loss, lse, loss_sum, weight_sum);
}

FloatArray backward(py::handle logits_obj, py::handle target_obj, py::handle weight_obj, py::handle lse_obj,
                    py::handle grad_obj, int64_t ignore_index, float label_smoothing) {
  const char* op = "cross_entropy_backward";
  Checked in = check_inputs(op, logits_obj, target_obj, weight_obj, ignore_index, label_smoothing);
  FloatArray lse = float32_array(lse_obj, op, "lse"), grad = float32_array(grad_obj, op, "grad_loss");
  check_shape(lse, {in.rows}, op, "lse");
  check_shape(grad, {in.rows}, op, "grad_loss");
  FloatArray dlogits = empty_float32({in.rows, in.classes});
  float* dp = dlogits.mutable_data();
  {
    py::gil_scoped_release release;
    cross_entropy_backward(dp, grad.data(), in.logits.data(), in.target.data(), lse.data(), data_or_null(in.weight),
                           in.rows, in.classes, ignore_index, label_smoothing);
  }
  return dlogits;
}

}  // namespace

SK_REGISTER_BINDINGS(loss) {
  m.def("cross_entropy_forward", &forward, py::arg("input"), py::arg("target"), py::arg("weight"),
        py::arg("ignore_index"), py::arg("label_smoothing"),
        "Per-row (unreduced, class-weighted) softmax cross-entropy of (rows, classes) logits and int targets "
        "-> (loss, lse, loss_sum, weight_sum): 'mean' is loss_sum / weight_sum (the summed weights of the "
        "targets not ignored). Targets outside [0, classes) other than ignore_index raise IndexError.");
  m.def("cross_entropy_backward", &backward, py::arg("input"), py::arg("target"), py::arg("weight"), py::arg("lse"),
        py::arg("grad_loss"), py::arg("ignore_index"), py::arg("label_smoothing"),
        "d(sum_i grad_loss[i] * loss[i]) / d input.");
}

}  // namespace sk::bind
