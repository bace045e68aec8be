// Recurrent layers: Elman RNN (tanh or relu), LSTM and GRU — one direction of one layer over a whole
// sequence, forward and backward through time, with per-sequence lengths. A single step (torch's
// RNNCell / LSTMCell / GRUCell) is the same call with T = 1.
//
// Equations, weights and gate order are PyTorch's (G gates of H units each, stacked along rows):
//   RNN   h' = act(W_ih x + b_ih + W_hh h + b_hh)                         G = 1, act = tanh | relu
//   LSTM  [i f g o] = W_ih x + b_ih + W_hh h + b_hh; i,f,o sigmoid, g tanh  G = 4
//         c' = f c + i g;   h' = o tanh(c')
//   GRU   r = sigmoid(W_ir x + b_ir + W_hr h + b_hr); z likewise            G = 3
//         n = tanh(W_in x + b_in + r (W_hn h + b_hn));  h' = (1 - z) n + z h
//
// Layout. x is (T, B, I), or (B, T, I) with batch_first; y is (T, B, ·) / (B, T, ·) whose rows hold
// `y_ld` floats, this direction writing columns [0, H) of each row (pass y + H, y_ld = 2H for the reverse
// half of a bidirectional output). Weights: w_ih (G*H, I), w_hh (G*H, H), biases (G*H) or nullptr for
// none. States h0/h_n/c0/c_n are (B, H); h0/c0 may be nullptr for zeros; c only for LSTM.
//
// Lengths (nullptr: every sequence is T long): 1 <= lengths[b] <= T. Sequence b runs over steps
// 0 .. len_b - 1 (the reverse direction from len_b - 1 down to 0); its padded steps output zeros and
// h_n / c_n are its state after its last real step — the semantics of torch's packed sequences.
//
// Temporaries come from a buffer per calling thread that is kept between calls (it grows to the largest
// call's need, about T*B*G*H floats plus the packed W_hh), so repeated calls touch no fresh pages.
#pragma once
#include <cstdint>

namespace sk {

enum class RnnCell : int { rnn_tanh = 0, rnn_relu = 1, lstm = 2, gru = 3 };

struct RnnShape {
  int64_t T, B, I, H;
  bool batch_first = false;
  bool reverse = false;
  const int64_t* lengths = nullptr;  // (B,) or nullptr
};

// Gates per unit (1, 1, 4, 3).
int rnn_gate_count(RnnCell cell);
// Floats forward saves per (time step, sequence) for backward; `saved` holds T * B of these rows.
int64_t rnn_saved_width(RnnCell cell, int64_t H);

// Forward of one direction: y (T, B, ·) rows y_ld floats apart, h_n (B, H), c_n (B, H) (LSTM, else null),
// saved (T*B, rnn_saved_width) receiving what backward needs (nullptr for inference); x (T, B, I), h0, c0 (B, H)
// or null; w_ih (G*H, I), w_hh (G*H, H), b_ih, b_hh (G*H) or null.
void rnn_forward(float* y, int64_t y_ld, float* h_n, float* c_n, float* saved, const float* x, const float* h0,
                 const float* c0, const float* w_ih, const float* w_hh, const float* b_ih, const float* b_hh,
                 RnnCell cell, const RnnShape& shape);

// Backward of one direction, from the `saved` of its forward: dx (T, B, I), dh0, dc0 (B, H), dw_ih (G*H, I),
// dw_hh (G*H, H), db_ih, db_hh (G*H), each null when not wanted. dx is overwritten, or accumulated into when
// accumulate_dx (the second direction of a bidirectional layer); the weight gradients are overwritten.
// dy (T, B, ·) rows dy_ld floats apart (this direction's H columns first, as y); dy_h_n, dy_c_n (B, H) the
// gradients of h_n and c_n, null for zero; x, w_ih, w_hh as forward.
void rnn_backward(float* dx, float* dh0, float* dc0, float* dw_ih, float* dw_hh, float* db_ih, float* db_hh,
                  const float* dy, int64_t dy_ld, const float* dy_h_n, const float* dy_c_n, const float* x,
                  const float* saved, const float* w_ih, const float* w_hh, RnnCell cell, const RnnShape& shape,
                  bool accumulate_dx);

}  // namespace sk
