// Recurrent layers (RNN tanh/relu, LSTM, GRU): one direction of one layer, forward and backward through
// time, with per-sequence lengths. Equations and gate order are PyTorch's (see seqkernels/rnn.h).
//
// Forward, for a sequence X (T*B rows of I) and G*H gate rows:
//   P   = X W_ih^T                          one GEMM over all time steps          (T*B x G*H)
//   per step s:  Q = h W_hh^T               one GEMM over the sequences still running
//                a = P[row] + b_ih + Q + b_hh, and the cell's pointwise update, fused in one pass:
//   RNN   h' = act(a)
//   LSTM  i,f,o = sigmoid(a_i, a_f, a_o), g = tanh(a_g);  c' = f c + i g;  h' = o tanh(c')
//   GRU   r,z = sigmoid(a_r, a_z);  n = tanh(P_n + b_in + r (Q_n + b_hn));  h' = (1 - z) n + z h
// Saved per (step, sequence) row: the activations above (RNN h'; LSTM i f g o and c, from which backward
// recomputes tanh(c'); GRU r z n and Q_n + b_hn) and the incoming state h.
//
// Backward through time, from the last step down, with dh = dh_next + dy[row] (and dc for LSTM):
//   RNN   da = dh * (1 - h'^2) (tanh) or dh * [h' > 0] (relu)
//   LSTM  dc += dh o (1 - tanh(c')^2);  da_o = dh tanh(c') o(1-o);  da_i = dc g i(1-i);
//         da_g = dc i (1-g^2);  da_f = dc c f(1-f);  dc_prev = dc f
//   GRU   dn = dh (1-z) (1-n^2);  da_z = dh (h - n) z(1-z);  da_r = dn (Q_n + b_hn) r(1-r);  dh_prev = dh z
//   The gradient reaching the input projection is dA_ih = da (GRU n part: dn); the one reaching the
//   hidden projection is dA_hh = da (GRU n part: dn r). Per step one GEMM: dh_prev += dA_hh W_hh.
// After the loop every weight gradient is one large GEMM over all T*B rows:
//   dW_ih = dA_ih^T X;   dW_hh = dA_hh^T H_prev;   dX = dA_ih W_ih;   db_ih = colsum dA_ih;  db_hh = colsum dA_hh
//
// Lengths: sequences are put in slots sorted by length (longest first, stable), so the sequences still
// running at step s are the slot prefix [0, active(s)) and every per-step GEMM covers only them (as
// torch's packed sequences do). The reverse direction visits t = len_b - 1 - s. Padded steps output zeros;
// the work matrices (P, saved rows, dA) then hold only the real steps, packed step by step, so the large
// GEMMs skip padding too (x is gathered into that order and dX scattered back).
//
// Threads: the large GEMMs are parallel inside; in the recurrence, sequences are independent, so each
// thread runs every step for its own block of slots (balanced by length) and no step waits for a barrier.
#include "seqkernels/rnn.h"

#include <algorithm>
#include <cstring>
#include <initializer_list>
#include <numeric>
#include <vector>

#include "seqkernels/gemm.h"
#include "seqkernels/parallel.h"
#include "scratch.h"
#include "simd_math.h"

namespace sk {
namespace {

// The temporaries of a layer call (input projection, gate gradients, packed weights, states) are carved
// from the calling thread's rnn_workspace scratch (kept between calls: no fresh pages to fault in).
// Chunks are rounded up to 16 floats.
class Workspace {
 public:
  explicit Workspace(std::initializer_list<int64_t> sizes) {
    int64_t total = 0;
    for (int64_t n : sizes) total += rounded(n);
    next_ = thread_scratch(ScratchPurpose::rnn_workspace, total);
  }
  // The next chunk of n floats (in the order the sizes were given).
  float* take(int64_t n) {
    float* p = next_;
    next_ += rounded(n);
    return p;
  }

 private:
  static int64_t rounded(int64_t n) { return (n + 15) / 16 * 16; }
  float* next_;
};

// ---- cells: the fused pointwise pass of one (step, sequence) row ---------------------------------------
// forward(H, p, q, b_ih, b_hh, h, c, y, save): p = x W_ih^T row, q = h W_hh^T row (G*H each); h (and c)
//   hold the incoming state and receive the new one; y receives h'; save receives the cell's saved floats.
// backward(H, save, dh, dc, da_ih, da_hh): dh holds the total gradient of h' and receives the part of
//   dh_prev that bypasses W_hh (only when direct_dh); dc (LSTM) holds dc' and receives dc_prev.
// Both run over the H units in SIMD registers (simd_math.h); the last H mod W units go through a
// zero-padded register, so every unit gets exactly the same arithmetic.

using simd::V;
using simd::Vec;
using simd::sigmoid;

struct FullLanes {  // a whole register at p
  static V load(const float* p) { return Vec::loadu(p); }
  static void store(float* p, V v) { Vec::storeu(p, v); }
};
struct TailLanes {  // the first n < W floats at p, zero-padded
  int64_t n;
  V load(const float* p) const {
    float buf[Vec::W] = {};
    std::memcpy(buf, p, static_cast<size_t>(n) * sizeof(float));
    return Vec::loadu(buf);
  }
  void store(float* p, V v) const {
    float buf[Vec::W];
    Vec::storeu(buf, v);
    std::memcpy(p, buf, static_cast<size_t>(n) * sizeof(float));
  }
};

// body(k, lanes) for k = 0, W, 2W, ...: lanes loads/stores the W (or, last, fewer) floats at offset k.
template <class Body>
inline void for_lanes(int64_t H, Body&& body) {
  int64_t k = 0;
  for (; k + Vec::W <= H; k += Vec::W) body(k, FullLanes{});
  if (k < H) body(k, TailLanes{H - k});
}

inline V one() { return Vec::set1(1.0f); }
inline V one_minus(V x) { return simd::sub(one(), x); }
// p + q + b_ih + b_hh at offset `at`.
template <class Lanes>
inline V preactivation(const Lanes& io, int64_t at, const float* p, const float* q, const float* b_ih,
                       const float* b_hh) {
  return Vec::add(Vec::add(io.load(p + at), io.load(q + at)), Vec::add(io.load(b_ih + at), io.load(b_hh + at)));
}

template <bool Relu>
struct ElmanCell {
  static constexpr int gates = 1, saved_units = 1;
  static constexpr bool direct_dh = false, split_hidden_grad = false;
  static void forward(int64_t H, const float* p, const float* q, const float* b_ih, const float* b_hh, float* h,
                      float*, float* y, float* save) {
    for_lanes(H, [&](int64_t k, auto io) {
      V a = preactivation(io, k, p, q, b_ih, b_hh);
      V v = Relu ? simd::max_nan(Vec::zero(), a) : simd::tanh(a);
      io.store(h + k, v);
      io.store(y + k, v);
      io.store(save + k, v);
    });
  }
  static void backward(int64_t H, const float* save, float* dh, float*, float* da_ih, float* da_hh) {
    for_lanes(H, [&](int64_t k, auto io) {
      V v = io.load(save + k), d = io.load(dh + k);
      V da = Relu ? simd::select_less(Vec::zero(), v, d, Vec::zero()) : Vec::mul(d, one_minus(Vec::mul(v, v)));
      io.store(da_ih + k, da);
      io.store(da_hh + k, da);
    });
  }
};

struct LstmCell {
  static constexpr int gates = 4, saved_units = 5;  // i f g o | c (backward recomputes tanh(c'))
  static constexpr bool direct_dh = false, split_hidden_grad = false;
  static void forward(int64_t H, const float* p, const float* q, const float* b_ih, const float* b_hh, float* h,
                      float* c, float* y, float* save) {
    for_lanes(H, [&](int64_t k, auto io) {
      V i = sigmoid(preactivation(io, k, p, q, b_ih, b_hh));
      V f = sigmoid(preactivation(io, H + k, p, q, b_ih, b_hh));
      V g = simd::tanh(preactivation(io, 2 * H + k, p, q, b_ih, b_hh));
      V o = sigmoid(preactivation(io, 3 * H + k, p, q, b_ih, b_hh));
      V c_prev = io.load(c + k);
      V c_new = Vec::fmadd(f, c_prev, Vec::mul(i, g));
      V tc = simd::tanh(c_new);
      V h_new = Vec::mul(o, tc);
      io.store(save + k, i);
      io.store(save + H + k, f);
      io.store(save + 2 * H + k, g);
      io.store(save + 3 * H + k, o);
      io.store(save + 4 * H + k, c_prev);
      io.store(c + k, c_new);
      io.store(h + k, h_new);
      io.store(y + k, h_new);
    });
  }
  static void backward(int64_t H, const float* save, float* dh, float* dc, float* da_ih, float* da_hh) {
    for_lanes(H, [&](int64_t k, auto io) {
      V i = io.load(save + k), f = io.load(save + H + k), g = io.load(save + 2 * H + k);
      V o = io.load(save + 3 * H + k), c_prev = io.load(save + 4 * H + k);
      V tc = simd::tanh(Vec::fmadd(f, c_prev, Vec::mul(i, g)));  // exactly forward's tanh(c')
      V d = io.load(dh + k);
      V dct = Vec::fmadd(Vec::mul(d, o), one_minus(Vec::mul(tc, tc)), io.load(dc + k));
      V da[4] = {Vec::mul(Vec::mul(dct, g), Vec::mul(i, one_minus(i))),
                 Vec::mul(Vec::mul(dct, c_prev), Vec::mul(f, one_minus(f))),
                 Vec::mul(Vec::mul(dct, i), one_minus(Vec::mul(g, g))),
                 Vec::mul(Vec::mul(d, tc), Vec::mul(o, one_minus(o)))};
      io.store(dc + k, Vec::mul(dct, f));
      for (int gate = 0; gate < 4; ++gate) {
        io.store(da_ih + gate * H + k, da[gate]);
        io.store(da_hh + gate * H + k, da[gate]);
      }
    });
  }
};

struct GruCell {
  static constexpr int gates = 3, saved_units = 4;  // r z n | W_hn h + b_hn
  static constexpr bool direct_dh = true, split_hidden_grad = true;
  static void forward(int64_t H, const float* p, const float* q, const float* b_ih, const float* b_hh, float* h,
                      float*, float* y, float* save) {
    for_lanes(H, [&](int64_t k, auto io) {
      V r = sigmoid(preactivation(io, k, p, q, b_ih, b_hh));
      V z = sigmoid(preactivation(io, H + k, p, q, b_ih, b_hh));
      V hn = Vec::add(io.load(q + 2 * H + k), io.load(b_hh + 2 * H + k));
      V n = simd::tanh(Vec::fmadd(r, hn, Vec::add(io.load(p + 2 * H + k), io.load(b_ih + 2 * H + k))));
      V h_new = Vec::fmadd(z, simd::sub(io.load(h + k), n), n);  // (1 - z) n + z h
      io.store(save + k, r);
      io.store(save + H + k, z);
      io.store(save + 2 * H + k, n);
      io.store(save + 3 * H + k, hn);
      io.store(h + k, h_new);
      io.store(y + k, h_new);
    });
  }
  // Reads h_prev from the saved row (it follows the cell's own saved floats).
  static void backward(int64_t H, const float* save, float* dh, float*, float* da_ih, float* da_hh) {
    const float* h_prev = save + saved_units * H;
    for_lanes(H, [&](int64_t k, auto io) {
      V r = io.load(save + k), z = io.load(save + H + k), n = io.load(save + 2 * H + k);
      V hn = io.load(save + 3 * H + k), d = io.load(dh + k);
      V da_n = Vec::mul(Vec::mul(d, one_minus(z)), one_minus(Vec::mul(n, n)));
      V da_z = Vec::mul(Vec::mul(d, simd::sub(io.load(h_prev + k), n)), Vec::mul(z, one_minus(z)));
      V da_r = Vec::mul(Vec::mul(da_n, hn), Vec::mul(r, one_minus(r)));
      io.store(dh + k, Vec::mul(d, z));
      io.store(da_ih + k, da_r);
      io.store(da_hh + k, da_r);
      io.store(da_ih + H + k, da_z);
      io.store(da_hh + H + k, da_z);
      io.store(da_ih + 2 * H + k, da_n);
      io.store(da_hh + 2 * H + k, Vec::mul(da_n, r));
    });
  }
};

// ---- the schedule shared by every cell -----------------------------------------------------------------

// Row of (time t, sequence b) in the T*B-row arrays the caller passes (x, y, dy, dx).
inline int64_t row_of(const RnnShape& s, int64_t t, int64_t b) { return s.batch_first ? b * s.T + t : t * s.B + b; }

// Slots sorted by length (longest first), per step how many sequences are still running, and the layout of
// the work matrices (input projection, saved rows, gate gradients). When some sequences are shorter than T,
// work rows hold only real steps, packed step by step as in torch's PackedSequence: row offset[step] + j is
// slot j at `step`, so padded steps cost no GEMM work at all. Otherwise work rows are the caller's rows.
struct Schedule {
  const RnnShape& s;
  std::vector<int64_t> order;   // slot -> sequence
  std::vector<int64_t> length;  // per sequence
  std::vector<int64_t> active;  // per step
  std::vector<int64_t> offset;  // per step (and one past the end): first packed work row
  bool packed = false;
  int64_t work_rows = 0;

  explicit Schedule(const RnnShape& shape)
      : s(shape), order(s.B), length(s.B, s.T), active(s.T), offset(s.T + 1, 0) {
    if (s.lengths) std::copy(s.lengths, s.lengths + s.B, length.begin());
    std::iota(order.begin(), order.end(), int64_t{0});
    std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) { return length[a] > length[b]; });
    int64_t n = s.B;
    for (int64_t step = 0; step < s.T; ++step) {
      while (n > 0 && length[order[n - 1]] <= step) --n;
      active[step] = n;
      offset[step + 1] = offset[step] + n;
    }
    work_rows = offset[s.T];
    packed = work_rows < s.T * s.B;
  }

  int64_t time_of(int64_t step, int64_t b) const { return s.reverse ? length[b] - 1 - step : step; }
  // The caller's row of slot j (sequence b) at `step`, and its work row.
  int64_t row(int64_t step, int64_t b) const { return row_of(s, time_of(step, b), b); }
  int64_t work_row(int64_t step, int64_t j, int64_t b) const { return packed ? offset[step] + j : row(step, b); }

  // fn(work_row, row) for every real step of every sequence, parallel over steps.
  template <class Fn>
  void for_each_real_row(Fn&& fn) const {
    sk::parallel_for(s.T, 1, [&](int64_t t0, int64_t t1) {
      for (int64_t step = t0; step < t1; ++step)
        for (int64_t j = 0; j < active[step]; ++j) fn(work_row(step, j, order[j]), row(step, order[j]));
    });
  }

  // Runs fn(j0, j1) on each thread over its own block of slots, for the whole time loop: sequences are
  // independent, so the threads never wait for each other inside the recurrence. Blocks are contiguous
  // and balanced by total length (deterministic for a given thread count).
  template <class Fn>
  void for_each_thread_block(Fn&& fn) const {
    const int threads = static_cast<int>(std::min<int64_t>(sk::num_threads(), s.B));
    sk::parallel_region(threads, [&](int t, int count) {
      auto boundary = [&](int k) {  // first slot whose preceding lengths reach work_rows * k / count
        int64_t target = work_rows * k / count, sum = 0, j = 0;
        while (j < s.B && sum < target) sum += length[order[j++]];
        return k == count ? s.B : j;
      };
      const int64_t j0 = boundary(t), j1 = boundary(t + 1);
      if (j0 < j1) fn(j0, j1);
    });
  }
  // Slots of [j0, j1) still running at `step` (a prefix of the block).
  int64_t running(int64_t step, int64_t j0, int64_t j1) const {
    return std::max<int64_t>(0, std::min(active[step], j1) - j0);
  }
};

// Floats work_input needs for its gathered copy.
int64_t work_input_size(const Schedule& sched) { return sched.packed ? sched.work_rows * sched.s.I : 0; }
// The input in work-row order: x itself, or its real rows gathered into `storage` (work_input_size floats).
const float* work_input(const Schedule& sched, const float* x, float* storage) {
  if (!sched.packed) return x;
  const int64_t I = sched.s.I;
  float* xw = storage;
  sched.for_each_real_row([&](int64_t w, int64_t r) { std::memcpy(xw + w * I, x + r * I, I * sizeof(float)); });
  return xw;
}

// out[c] = sum over rows of m[row * cols + c], parallel over column blocks (deterministic).
void column_sums(const float* m, int64_t rows, int64_t cols, float* out) {
  sk::parallel_for(cols, 64, [&](int64_t c0, int64_t c1) {
    for (int64_t c = c0; c < c1; ++c) out[c] = 0.0f;
    for (int64_t r = 0; r < rows; ++r) {
      const float* src = m + r * cols;
#pragma omp simd
      for (int64_t c = c0; c < c1; ++c) out[c] += src[c];
    }
  });
}

template <class Cell>
void forward_impl(const RnnShape& s, const float* x, const float* w_ih, const float* w_hh, const float* b_ih,
                  const float* b_hh, const float* h0, const float* c0, float* y, int64_t y_ld, float* h_n,
                  float* c_n, float* saved) {
  const int64_t H = s.H, GH = Cell::gates * H;
  const int64_t cell_saved = Cell::saved_units * H, width = cell_saved + H;
  const Schedule sched(s);
  std::vector<float> zero_bias((b_ih && b_hh) ? 0 : GH, 0.0f);
  if (!b_ih) b_ih = zero_bias.data();
  if (!b_hh) b_hh = zero_bias.data();

  const int64_t packed_size = gemm_packed_b_size(H, GH), scratch_size = saved ? 0 : s.B * width;
  Workspace ws({work_input_size(sched), sched.work_rows * GH, packed_size, s.B * H, s.B * H, s.B * GH,
                scratch_size});
  const float* xw = work_input(sched, x, ws.take(work_input_size(sched)));
  float* proj = ws.take(sched.work_rows * GH);  // x W_ih^T for every real step
  sk::gemm(proj, GH, xw, s.I, w_ih, s.I, {sched.work_rows, GH, s.I, false, true, 1.0f, 0.0f});

  // Slot-ordered state, the hidden projection of one step, and inference scratch for saved rows.
  float* w_hh_packed = ws.take(packed_size);  // W_hh^T, packed once for every step
  sk::gemm_pack_b(w_hh_packed, w_hh, H, true, H, GH);
  float *h = ws.take(s.B * H), *c = ws.take(s.B * H), *q = ws.take(s.B * GH), *scratch = ws.take(scratch_size);
  for (int64_t j = 0; j < s.B; ++j) {
    const int64_t b = sched.order[j];
    for (int64_t k = 0; k < H; ++k) {
      h[j * H + k] = h0 ? h0[b * H + k] : 0.0f;
      c[j * H + k] = c0 ? c0[b * H + k] : 0.0f;
    }
    for (int64_t t = sched.length[b]; t < s.T; ++t) std::fill_n(y + row_of(s, t, b) * y_ld, H, 0.0f);
  }

  sched.for_each_thread_block([&](int64_t j0, int64_t j1) {
    for (int64_t step = 0; step < s.T; ++step) {
      const int64_t n = sched.running(step, j0, j1);
      if (n == 0) break;
      sk::gemm_prepacked_b(q + j0 * GH, GH, h + j0 * H, H, w_hh_packed, {n, GH, H, false, false, 1.0f, 0.0f});
      for (int64_t j = j0; j < j0 + n; ++j) {
        const int64_t b = sched.order[j], w = sched.work_row(step, j, b);
        float* save = saved ? saved + w * width : scratch + j * width;
        std::memcpy(save + cell_saved, h + j * H, H * sizeof(float));
        Cell::forward(H, proj + w * GH, q + j * GH, b_ih, b_hh, h + j * H, c + j * H,
                      y + sched.row(step, b) * y_ld, save);
      }
    }
  });
  for (int64_t j = 0; j < s.B; ++j) {
    const int64_t b = sched.order[j];
    std::memcpy(h_n + b * H, h + j * H, H * sizeof(float));
    if (c_n) std::memcpy(c_n + b * H, c + j * H, H * sizeof(float));
  }
}

template <class Cell>
void backward_impl(const RnnShape& s, const float* x, const float* w_ih, const float* w_hh, const float* saved,
                   const float* dy, int64_t dy_ld, const float* dh_n, const float* dc_n, float* dx,
                   bool accumulate_dx, float* dh0, float* dc0, float* dw_ih, float* dw_hh, float* db_ih,
                   float* db_hh) {
  const int64_t H = s.H, GH = Cell::gates * H;
  const int64_t cell_saved = Cell::saved_units * H, width = cell_saved + H;
  const Schedule sched(s);
  const int64_t rows = sched.work_rows;

  // Gradients of the input and hidden projections for every work row (one array when they coincide).
  const int64_t packed_size = gemm_packed_b_size(GH, H), split_size = Cell::split_hidden_grad ? rows * GH : 0;
  Workspace ws({rows * GH, split_size, packed_size, s.B * H, s.B * H, s.B * GH, work_input_size(sched)});
  float* da_ih = ws.take(rows * GH);
  float* da_hh_split = ws.take(split_size);
  float* da_hh = Cell::split_hidden_grad ? da_hh_split : da_ih;

  float* w_hh_packed = ws.take(packed_size);  // W_hh, packed once for every step
  sk::gemm_pack_b(w_hh_packed, w_hh, H, false, GH, H);
  float *dh = ws.take(s.B * H), *dc = ws.take(s.B * H), *da_step = ws.take(s.B * GH);
  for (int64_t j = 0; j < s.B; ++j) {
    const int64_t b = sched.order[j];
    for (int64_t k = 0; k < H; ++k) {
      dh[j * H + k] = dh_n ? dh_n[b * H + k] : 0.0f;
      dc[j * H + k] = dc_n ? dc_n[b * H + k] : 0.0f;
    }
  }
  sched.for_each_thread_block([&](int64_t j0, int64_t j1) {
    for (int64_t step = s.T - 1; step >= 0; --step) {
      const int64_t n = sched.running(step, j0, j1);
      if (n == 0) continue;
      for (int64_t j = j0; j < j0 + n; ++j) {
        const int64_t b = sched.order[j], w = sched.work_row(step, j, b);
        float* dhj = dh + j * H;
        const float* dyr = dy + sched.row(step, b) * dy_ld;
#pragma omp simd
        for (int64_t k = 0; k < H; ++k) dhj[k] += dyr[k];
        float* da_h = da_step + j * GH;
        Cell::backward(H, saved + w * width, dhj, dc + j * H, da_ih + w * GH, da_h);
        if (Cell::split_hidden_grad) std::memcpy(da_hh + w * GH, da_h, GH * sizeof(float));
      }
      sk::gemm_prepacked_b(dh + j0 * H, H, da_step + j0 * GH, GH, w_hh_packed,
                           {n, H, GH, false, false, 1.0f, Cell::direct_dh ? 1.0f : 0.0f});
    }
  });
  for (int64_t j = 0; j < s.B; ++j) {
    const int64_t b = sched.order[j];
    if (dh0) std::memcpy(dh0 + b * H, dh + j * H, H * sizeof(float));
    if (dc0) std::memcpy(dc0 + b * H, dc + j * H, H * sizeof(float));
  }
  float* x_storage = ws.take(work_input_size(sched));
  const float* xw = work_input(sched, x, x_storage);
  sk::gemm(dw_ih, s.I, da_ih, GH, xw, s.I, {GH, s.I, rows, true, false, 1.0f, 0.0f});
  sk::gemm(dw_hh, H, da_hh, GH, saved + cell_saved, width, {GH, H, rows, true, false, 1.0f, 0.0f});
  if (db_ih) column_sums(da_ih, rows, GH, db_ih);
  if (db_hh && db_ih && !Cell::split_hidden_grad)
    std::memcpy(db_hh, db_ih, GH * sizeof(float));  // the same gradient reaches both biases
  else if (db_hh)
    column_sums(da_hh, rows, GH, db_hh);
  if (!dx) return;
  if (!sched.packed) {
    sk::gemm(dx, s.I, da_ih, GH, w_ih, s.I, {rows, s.I, GH, false, false, 1.0f, accumulate_dx ? 1.0f : 0.0f});
    return;
  }
  // Packed: dX of the real rows into the (reused) gathered-input buffer, then scattered; padded rows get 0.
  float* dxw = x_storage;
  sk::gemm(dxw, s.I, da_ih, GH, w_ih, s.I, {rows, s.I, GH, false, false, 1.0f, 0.0f});
  if (!accumulate_dx)
    for (int64_t b = 0; b < s.B; ++b)
      for (int64_t t = sched.length[b]; t < s.T; ++t) std::fill_n(dx + row_of(s, t, b) * s.I, s.I, 0.0f);
  sched.for_each_real_row([&](int64_t w, int64_t r) {
    float* dst = dx + r * s.I;
    const float* src = dxw + w * s.I;
    if (accumulate_dx) {
#pragma omp simd
      for (int64_t k = 0; k < s.I; ++k) dst[k] += src[k];
    } else {
      std::memcpy(dst, src, s.I * sizeof(float));
    }
  });
}

template <class Visitor>
void dispatch(RnnCell cell, Visitor&& visit) {
  switch (cell) {
    case RnnCell::rnn_tanh: return visit(ElmanCell<false>{});
    case RnnCell::rnn_relu: return visit(ElmanCell<true>{});
    case RnnCell::lstm: return visit(LstmCell{});
    case RnnCell::gru: return visit(GruCell{});
  }
}

}  // namespace

int rnn_gate_count(RnnCell cell) {
  int g = 0;
  dispatch(cell, [&](auto c) { g = decltype(c)::gates; });
  return g;
}

int64_t rnn_saved_width(RnnCell cell, int64_t H) {
  int64_t w = 0;
  dispatch(cell, [&](auto c) { w = (decltype(c)::saved_units + 1) * H; });
  return w;
}

void rnn_forward(float* y, int64_t y_ld, float* h_n, float* c_n, float* saved, const float* x, const float* h0,
                 const float* c0, const float* w_ih, const float* w_hh, const float* b_ih, const float* b_hh,
                 RnnCell cell, const RnnShape& shape) {
  dispatch(cell, [&](auto c) {
    forward_impl<decltype(c)>(shape, x, w_ih, w_hh, b_ih, b_hh, h0, c0, y, y_ld, h_n, c_n, saved);
  });
}

void rnn_backward(float* dx, float* dh0, float* dc0, float* dw_ih, float* dw_hh, float* db_ih, float* db_hh,
                  const float* dy, int64_t dy_ld, const float* dy_h_n, const float* dy_c_n, const float* x,
                  const float* saved, const float* w_ih, const float* w_hh, RnnCell cell, const RnnShape& shape,
                  bool accumulate_dx) {
  dispatch(cell, [&](auto c) {
    backward_impl<decltype(c)>(shape, x, w_ih, w_hh, saved, dy, dy_ld, dy_h_n, dy_c_n, dx, accumulate_dx, dh0, dc0,
                               dw_ih, dw_hh, db_ih, db_hh);
  });
}

}  // namespace sk
