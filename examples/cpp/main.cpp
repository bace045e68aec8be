// An LSTM layer and causal attention, forward, through the C++ API of the installed kernel library,
// checked against what PyTorch computes for the same inputs (reference.h, from make_reference.py).
// Exits 0 when every value agrees within 1e-5.
#include <cmath>
#include <cstdio>
#include <vector>

#include "reference.h"
#include "seqkernels/attention.h"
#include "seqkernels/rnn.h"

namespace {

// The inputs' formula, shared with make_reference.py.
std::vector<float> values(int count, float salt) {
  std::vector<float> v(count);
  for (int i = 0; i < count; ++i) v[i] = static_cast<float>(std::sin(0.37 * i + salt) * 0.5);
  return v;
}

template <size_t N>
bool agrees(const char* what, const std::vector<float>& got, const float (&expected)[N]) {
  double worst = 0.0;
  for (size_t i = 0; i < N; ++i) worst = std::fmax(worst, std::fabs(got[i] - expected[i]));
  bool ok = got.size() == N && worst <= 1e-5;
  std::printf("%-10s %zu values, max |ours - torch| = %.2e  %s\n", what, N, worst, ok ? "ok" : "MISMATCH");
  return ok;
}

}  // namespace

int main() {
  const int64_t T = 5, B = 2, I = 3, H = 4;
  std::vector<float> w_ih = values(4 * H * I, 1.0f), w_hh = values(4 * H * H, 2.0f);
  std::vector<float> b_ih = values(4 * H, 3.0f), b_hh = values(4 * H, 4.0f), x = values(T * B * I, 5.0f);
  std::vector<float> y(T * B * H), h_n(B * H), c_n(B * H);
  sk::RnnShape shape{T, B, I, H};
  sk::rnn_forward(y.data(), H, h_n.data(), c_n.data(), nullptr, x.data(), nullptr, nullptr, w_ih.data(), w_hh.data(),
                  b_ih.data(), b_hh.data(), sk::RnnCell::lstm, shape);

  const int64_t AB = 1, AH = 2, L = 5, D = 4;
  std::vector<float> q = values(AB * AH * L * D, 6.0f), k = values(AB * AH * L * D, 7.0f);
  std::vector<float> v = values(AB * AH * L * D, 8.0f), out(AB * AH * L * D), lse(AB * AH * L);
  sk::AttentionParams p;
  p.batch = AB, p.heads = p.kv_heads = AH, p.len_q = p.len_k = L, p.head_dim = D;
  p.scale = 1.0f / std::sqrt(static_cast<float>(D));
  p.causal = sk::AttentionCausal::top_left;
  sk::attention_forward(out.data(), lse.data(), q.data(), k.data(), v.data(), p);

  bool ok = agrees("lstm y", y, kLstmY) & agrees("lstm h_n", h_n, kLstmH) & agrees("lstm c_n", c_n, kLstmC) &
            agrees("attention", out, kAttention);
  return ok ? 0 : 1;
}
