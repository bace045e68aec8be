// _C.adam_step / _C.sgd_step: fused in-place optimizer updates of one float32 parameter array.
#include <cmath>

#include "kernel_args.h"
#include "seqkernels/optim.h"

namespace sk::bind {
namespace {

// A state array written in place, of the parameter's shape.
float* state_array(py::handle obj, const py::array& param, const char* op, const char* arg) {
  FloatArray a = float32_inplace(obj, op, arg);
  check_same_shape(param, a, op, arg);
  return a.mutable_data();
}

void adam_step_binding(py::handle param_obj, py::handle grad_obj, py::handle exp_avg_obj,
                       py::handle exp_avg_sq_obj, py::handle max_exp_avg_sq_obj, int64_t step, double lr,
                       double beta1, double beta2, double eps, double weight_decay, bool decoupled_weight_decay) {
  const char* op = decoupled_weight_decay ? "AdamW.step" : "Adam.step";
  if (step < 1) throw py::value_error(std::string(op) + ": argument 'step' must be >= 1, got " + std::to_string(step));
  FloatArray param = float32_inplace(param_obj, op, "param");
  FloatArray grad = float32_array(grad_obj, op, "grad");
  check_same_shape(param, grad, op, "grad");
  float* m = state_array(exp_avg_obj, param, op, "exp_avg");
  float* v = state_array(exp_avg_sq_obj, param, op, "exp_avg_sq");
  float* vmax = max_exp_avg_sq_obj.is_none() ? nullptr : state_array(max_exp_avg_sq_obj, param, op, "max_exp_avg_sq");
  // Each array written in place must share memory with no other argument.
  const Named p_{"param", param_obj}, g_{"grad", grad}, m_{"exp_avg", exp_avg_obj}, v_{"exp_avg_sq", exp_avg_sq_obj},
      vmax_{"max_exp_avg_sq", max_exp_avg_sq_obj};
  check_no_overlap(p_, {g_, m_, v_, vmax_}, op);
  check_no_overlap(m_, {g_, v_, vmax_}, op);
  check_no_overlap(v_, {g_, vmax_}, op);
  check_no_overlap(vmax_, {g_}, op);
  // The scalars as torch computes them: Python floats (double), rounded to float32 by the tensor ops.
  AdamConfig config{};
  config.beta1 = static_cast<float>(beta1);
  config.beta2 = static_cast<float>(beta2);
  config.eps = static_cast<float>(eps);
  config.weight_decay = static_cast<float>(weight_decay);
  config.decoupled_weight_decay = decoupled_weight_decay;
  config.step_size = static_cast<float>(lr / (1.0 - std::pow(beta1, static_cast<double>(step))));
  config.bias_correction2_sqrt = static_cast<float>(std::sqrt(1.0 - std::pow(beta2, static_cast<double>(step))));
  config.decay_factor = static_cast<float>(1.0 - lr * weight_decay);
  float* p = param.mutable_data();
  py::gil_scoped_release release;
  adam_step(p, m, v, vmax, grad.data(), param.size(), config);
}

void sgd_step_binding(py::handle param_obj, py::handle grad_obj, py::handle buffer_obj, double lr, double momentum,
                      double dampening, double weight_decay, bool nesterov, bool first_step) {
  const char* op = "SGD.step";
  FloatArray param = float32_inplace(param_obj, op, "param");
  FloatArray grad = float32_array(grad_obj, op, "grad");
  check_same_shape(param, grad, op, "grad");
  if (momentum != 0.0 && buffer_obj.is_none())
    throw py::value_error(std::string(op) + ": momentum != 0 needs argument 'momentum_buffer'");
  float* buffer = momentum == 0.0 ? nullptr : state_array(buffer_obj, param, op, "momentum_buffer");
  const Named p_{"param", param_obj}, g_{"grad", grad}, b_{"momentum_buffer", buffer ? buffer_obj : py::handle(Py_None)};
  check_no_overlap(p_, {g_, b_}, op);
  check_no_overlap(b_, {g_}, op);
  SgdConfig config{static_cast<float>(lr), static_cast<float>(momentum), static_cast<float>(dampening),
                   static_cast<float>(weight_decay), nesterov, first_step};
  float* p = param.mutable_data();
  py::gil_scoped_release release;
  sgd_step(p, buffer, grad.data(), param.size(), config);
}

}  // namespace

SK_REGISTER_BINDINGS(optim) {
  m.def("adam_step", &adam_step_binding, py::arg("param"), py::arg("grad"), py::arg("exp_avg"),
        py::arg("exp_avg_sq"), py::arg("max_exp_avg_sq"), py::kw_only(), py::arg("step"), py::arg("lr"),
        py::arg("beta1"), py::arg("beta2"), py::arg("eps"), py::arg("weight_decay"),
        py::arg("decoupled_weight_decay"),
        "One Adam (AdamW when decoupled_weight_decay) update of param and its state, in place; step counts from 1.");
  m.def("sgd_step", &sgd_step_binding, py::arg("param"), py::arg("grad"), py::arg("momentum_buffer"), py::kw_only(),
        py::arg("lr"), py::arg("momentum"), py::arg("dampening"), py::arg("weight_decay"), py::arg("nesterov"),
        py::arg("first_step"), "One SGD update of param (and its momentum buffer), in place.");
}

}  // namespace sk::bind
