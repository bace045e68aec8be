// _C.rnn_forward / _C.rnn_backward: one direction of one recurrent layer (RNN tanh/relu, LSTM, GRU).
#include <optional>

#include "binding_utils.h"
#include "kernel_args.h"
#include "seqkernels/rnn.h"

namespace sk::bind {
namespace {

RnnCell parse_mode(const std::string& mode, const char* op) {
  if (mode == "RNN_TANH") return RnnCell::rnn_tanh;
  if (mode == "RNN_RELU") return RnnCell::rnn_relu;
  if (mode == "LSTM") return RnnCell::lstm;
  if (mode == "GRU") return RnnCell::gru;
  throw py::value_error(std::string(op) +
                        ": argument 'mode' must be one of 'RNN_TANH', 'RNN_RELU', 'LSTM', 'GRU', got '" + mode + "'");
}

// Everything both directions of the binding validate: the cell, shapes, weights and lengths.
struct Layer {
  RnnCell cell;
  RnnShape shape;
  int64_t G;
  FloatArray x, w_ih, w_hh;
  std::optional<py::array_t<int64_t, py::array::c_style>> lengths;
};

Layer validate_layer(const char* op, const std::string& mode, py::handle x_obj, py::handle w_ih_obj,
                     py::handle w_hh_obj, py::handle lengths_obj, bool batch_first, bool reverse) {
  Layer L{parse_mode(mode, op), {}, 0, float32_array(x_obj, op, "x"), float32_array(w_ih_obj, op, "w_ih"),
          float32_array(w_hh_obj, op, "w_hh"), std::nullopt};
  L.G = rnn_gate_count(L.cell);
  check_ndim(L.x, 3, op, "x");
  check_ndim(L.w_hh, 2, op, "w_hh");
  RnnShape& s = L.shape;
  s.T = batch_first ? L.x.shape(1) : L.x.shape(0);
  s.B = batch_first ? L.x.shape(0) : L.x.shape(1);
  s.I = L.x.shape(2);
  s.H = L.w_hh.shape(1);
  s.batch_first = batch_first;
  s.reverse = reverse;
  if (s.T < 1 || s.B < 1 || s.I < 1 || s.H < 1)
    throw py::value_error(std::string(op) + ": sequence length, batch, input and hidden sizes must be >= 1, got x " +
                          shape_str(L.x) + " and w_hh " + shape_str(L.w_hh));
  const int64_t GH = checked_mul(L.G, s.H, op, "gates * hidden size (w_hh.shape[1])");
  check_shape(L.w_hh, {GH, s.H}, op, "w_hh");
  check_shape(L.w_ih, {GH, s.I}, op, "w_ih");
  if (!lengths_obj.is_none()) {
    L.lengths = index_array(lengths_obj, op, "lengths");
    check_shape(*L.lengths, {s.B}, op, "lengths");
    const int64_t* len = L.lengths->data();
    for (int64_t b = 0; b < s.B; ++b)
      if (len[b] < 1 || len[b] > s.T)
        throw py::value_error(std::string(op) + ": lengths must lie in [1, " + std::to_string(s.T) +
                              "] (the sequence length), got " + std::to_string(len[b]) + " at index " +
                              std::to_string(b));
    s.lengths = len;
  }
  return L;
}

// A (T, B, K) / (B, T, K) array whose columns [column, column + H) this direction uses.
int64_t check_column_block(const py::array& a, const RnnShape& s, int64_t column, const char* op, const char* arg) {
  check_ndim(a, 3, op, arg);
  const int64_t d0 = s.batch_first ? s.B : s.T, d1 = s.batch_first ? s.T : s.B;
  // column + H <= K, written as column <= K - H so that nothing overflows
  if (a.shape(0) != d0 || a.shape(1) != d1 || a.shape(2) < s.H || column < 0 || column > a.shape(2) - s.H)
    throw py::value_error(std::string(op) + ": argument '" + arg + "' must have shape (" + std::to_string(d0) + ", " +
                          std::to_string(d1) + ", K) with columns [" + std::to_string(column) + ", " + std::to_string(column) +
                          " + hidden " + std::to_string(s.H) + ") within K, got " + shape_str(a));
  return a.shape(2);
}

py::tuple rnn_forward_binding(const std::string& mode, py::handle x_obj, py::handle w_ih_obj, py::handle w_hh_obj,
                              py::handle b_ih_obj, py::handle b_hh_obj, py::handle h0_obj, py::handle c0_obj,
                              py::handle lengths_obj, bool batch_first, bool reverse, bool training,
                              py::object out, int64_t out_column) {
  const char* op = "rnn_forward";
  Layer L = validate_layer(op, mode, x_obj, w_ih_obj, w_hh_obj, lengths_obj, batch_first, reverse);
  const RnnShape& s = L.shape;
  const bool lstm = L.cell == RnnCell::lstm;
  auto b_ih = optional_array(b_ih_obj, {L.G * s.H}, op, "b_ih");
  auto b_hh = optional_array(b_hh_obj, {L.G * s.H}, op, "b_hh");
  auto h0 = optional_array(h0_obj, {s.B, s.H}, op, "h0");
  if (!lstm && !c0_obj.is_none()) throw py::value_error(std::string(op) + ": argument 'c0' is only for mode 'LSTM'");
  auto c0 = optional_array(c0_obj, {s.B, s.H}, op, "c0");

  FloatArray y;
  int64_t y_ld = s.H;
  if (out.is_none()) {
    if (out_column != 0) throw py::value_error(std::string(op) + ": argument 'out_column' needs 'out'");
    y = batch_first ? empty_float32({s.B, s.T, s.H}) : empty_float32({s.T, s.B, s.H});
  } else {
    y = float32_inplace(out, op, "out");
    y_ld = check_column_block(y, s, out_column, op, "out");
    check_no_overlap({"out", y},
                     {{"x", L.x}, {"w_ih", L.w_ih}, {"w_hh", L.w_hh}, {"b_ih", array_or_none(b_ih)},
                      {"b_hh", array_or_none(b_hh)}, {"h0", array_or_none(h0)}, {"c0", array_or_none(c0)}},
                     op);
  }
  FloatArray h_n = empty_float32({s.B, s.H});
  std::optional<FloatArray> c_n;
  if (lstm) c_n = empty_float32({s.B, s.H});
  std::optional<FloatArray> saved;
  if (training) saved = recycled_float32({s.T * s.B, rnn_saved_width(L.cell, s.H)});
  float* y_ptr = y.mutable_data() + out_column;
  float* h_n_ptr = h_n.mutable_data();
  float* c_n_ptr = mutable_data_or_null(c_n);
  float* saved_ptr = mutable_data_or_null(saved);
  {
    py::gil_scoped_release release;
    rnn_forward(y_ptr, y_ld, h_n_ptr, c_n_ptr, saved_ptr, L.x.data(), data_or_null(h0), data_or_null(c0), L.w_ih.data(),
                L.w_hh.data(), data_or_null(b_ih), data_or_null(b_hh), L.cell, s);
  }
  return py::make_tuple(y, h_n, array_or_none(c_n), array_or_none(saved));
}

py::tuple rnn_backward_binding(const std::string& mode, py::handle x_obj, py::handle w_ih_obj, py::handle w_hh_obj,
                               py::handle saved_obj, py::handle dy_obj, int64_t dy_column, py::handle dh_n_obj,
                               py::handle dc_n_obj, py::handle lengths_obj, bool batch_first, bool reverse,
                               bool bias, bool need_dx, py::object dx_accumulate) {
  const char* op = "rnn_backward";
  Layer L = validate_layer(op, mode, x_obj, w_ih_obj, w_hh_obj, lengths_obj, batch_first, reverse);
  const RnnShape& s = L.shape;
  const bool lstm = L.cell == RnnCell::lstm;
  FloatArray saved = float32_array(saved_obj, op, "saved");
  check_shape(saved, {s.T * s.B, rnn_saved_width(L.cell, s.H)}, op, "saved");
  FloatArray dy = float32_array(dy_obj, op, "dy");
  const int64_t dy_ld = check_column_block(dy, s, dy_column, op, "dy");
  auto dh_n = optional_array(dh_n_obj, {s.B, s.H}, op, "dh_n");
  if (!lstm && !dc_n_obj.is_none())
    throw py::value_error(std::string(op) + ": argument 'dc_n' is only for mode 'LSTM'");
  auto dc_n = optional_array(dc_n_obj, {s.B, s.H}, op, "dc_n");

  std::optional<FloatArray> dx;
  const bool accumulate = !dx_accumulate.is_none();
  if (accumulate) {
    dx = float32_inplace(dx_accumulate, op, "dx_accumulate");
    check_shape(*dx, {L.x.shape(0), L.x.shape(1), s.I}, op, "dx_accumulate");
    check_no_overlap({"dx_accumulate", *dx},
                     {{"x", L.x}, {"w_ih", L.w_ih}, {"w_hh", L.w_hh}, {"saved", saved}, {"dy", dy},
                      {"dh_n", array_or_none(dh_n)}, {"dc_n", array_or_none(dc_n)}},
                     op);
  } else if (need_dx) {
    dx = empty_float32({L.x.shape(0), L.x.shape(1), s.I});
  }
  const int64_t GH = L.G * s.H;
  FloatArray dh0 = empty_float32({s.B, s.H}), dw_ih = empty_float32({GH, s.I}), dw_hh = empty_float32({GH, s.H});
  std::optional<FloatArray> dc0, db_ih, db_hh;
  if (lstm) dc0 = empty_float32({s.B, s.H});
  if (bias) {
    db_ih = empty_float32({GH});
    db_hh = empty_float32({GH});
  }
  float *dx_p = mutable_data_or_null(dx), *dc0_p = mutable_data_or_null(dc0);
  float *db_ih_p = mutable_data_or_null(db_ih), *db_hh_p = mutable_data_or_null(db_hh);
  float *dh0_p = dh0.mutable_data(), *dw_ih_p = dw_ih.mutable_data(), *dw_hh_p = dw_hh.mutable_data();
  {
    py::gil_scoped_release release;
    rnn_backward(dx_p, dh0_p, dc0_p, dw_ih_p, dw_hh_p, db_ih_p, db_hh_p, dy.data() + dy_column, dy_ld,
                 data_or_null(dh_n), data_or_null(dc_n), L.x.data(), saved.data(), L.w_ih.data(), L.w_hh.data(), L.cell,
                 s, accumulate);
  }
  return py::make_tuple(array_or_none(dx), dh0, array_or_none(dc0), dw_ih, dw_hh, array_or_none(db_ih),
                        array_or_none(db_hh));
}

}  // namespace

SK_REGISTER_BINDINGS(rnn) {
  m.def("rnn_forward", &rnn_forward_binding, py::arg("mode"), py::arg("x"), py::arg("w_ih"), py::arg("w_hh"),
        py::arg("b_ih") = py::none(), py::arg("b_hh") = py::none(), py::arg("h0") = py::none(),
        py::arg("c0") = py::none(), py::arg("lengths") = py::none(), py::kw_only(), py::arg("batch_first") = false,
        py::arg("reverse") = false, py::arg("training") = true, py::arg("out") = py::none(),
        py::arg("out_column") = 0,
        R"doc(One direction of one recurrent layer over a whole sequence -> (y, h_n, c_n, saved).

mode: 'RNN_TANH', 'RNN_RELU', 'LSTM' or 'GRU' (torch's equations and gate order). x: (T, B, I), or
(B, T, I) with batch_first; w_ih (G*H, I), w_hh (G*H, H), b_ih / b_hh (G*H) or None; h0 / c0 (B, H) or
None (zeros; c0 only for LSTM); lengths (B,) ints in [1, T] or None (torch's packed-sequence semantics:
padded steps output zeros, the reverse direction starts at each sequence's end, h_n is the last real
step). y is (T, B, H), or columns [out_column, out_column + H) of `out` (T, B, K) written in place (the
halves of a bidirectional output). c_n is None unless LSTM; saved (for rnn_backward) is None unless
training.)doc");
  m.def("rnn_backward", &rnn_backward_binding, py::arg("mode"), py::arg("x"), py::arg("w_ih"), py::arg("w_hh"),
        py::arg("saved"), py::arg("dy"), py::kw_only(), py::arg("dy_column") = 0, py::arg("dh_n") = py::none(),
        py::arg("dc_n") = py::none(), py::arg("lengths") = py::none(), py::arg("batch_first") = false,
        py::arg("reverse") = false, py::arg("bias") = true, py::arg("need_dx") = true,
        py::arg("dx_accumulate") = py::none(),
        R"doc(Backward through time of rnn_forward -> (dx, dh0, dc0, dw_ih, dw_hh, db_ih, db_hh).

Arguments as rnn_forward's, plus `saved` from it and dy (T, B, K) whose columns [dy_column, dy_column + H)
are this direction's output gradient; dh_n / dc_n (B, H) or None. dx is None unless need_dx, or is
accumulated into `dx_accumulate` (the other direction's dx); dc0 is None unless LSTM; db_* are None unless
bias.)doc");
}

}  // namespace sk::bind
