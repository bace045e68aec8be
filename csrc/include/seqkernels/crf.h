// Linear-chain conditional random field over K tags: negative log-likelihood by the forward algorithm, its
// gradient by forward-backward marginals, and Viterbi decoding. Batched; sequence b is its first lengths[b]
// steps (1 <= lengths[b] <= T), the rest is padding that is never read.
//
//   emissions (B, T, K) float32, tags (B, T) int64 in [0, K), lengths (B) int64,
//   transitions (K, K) [from, to], start (K), end (K).
//
//   score(y) = start[y_0] + sum_{t<L} e[t, y_t] + sum_{1<=t<L} trans[y_{t-1}, y_t] + end[y_{L-1}]
//   nll = log Z - score(tags),  log Z = logsumexp_y score(y)   (forward algorithm, O(L K^2))
#pragma once
#include <cstdint>

namespace sk {

struct CrfSizes {
  int64_t batch = 0, steps = 0, tags = 0;  // B, T, K
};

// nll (B); log_alpha (B, T, K) the forward variables (alpha[0, j] = start[j] + e[0, j],
// alpha[t, j] = e[t, j] + logsumexp_i alpha[t-1, i] + trans[i, j]; steps >= lengths[b] left unwritten) and
// log_z (B), both kept for backward.
void crf_forward(float* nll, float* log_alpha, float* log_z, const float* emissions, const int64_t* tags,
                 const int64_t* lengths, const float* transitions, const float* start, const float* end,
                 const CrfSizes& s);

// Gradients of sum_b dy[b] nll[b], each overwritten; null for one not wanted. With beta the backward variables
// and the marginals p(t, j) = exp(alpha + beta - log Z), p(t-1 i, t j) = exp(alpha[t-1, i] + trans[i, j] +
// e[t, j] + beta[t, j] - log Z):
//   d_emissions (B, T, K) = dy (p(t, j) - [y_t = j]) for t < L, 0 on padding
//   d_transitions (K, K) = sum_b dy sum_t (p(t-1 i, t j) - [y_{t-1} = i, y_t = j])
//   d_start (K) = sum_b dy (p(0, j) - [y_0 = j]),  d_end (K) = sum_b dy (p(L-1, j) - [y_{L-1} = j])
// The sums over b run in a fixed order: the same result for every thread count.
void crf_backward(float* d_emissions, float* d_transitions, float* d_start, float* d_end, const float* dy,
                  const float* emissions, const int64_t* tags, const int64_t* lengths, const float* log_alpha,
                  const float* log_z, const float* transitions, const float* end, const CrfSizes& s);

// best_tags (B, T): argmax_y score(y) for steps < lengths[b], -1 on padding; best_score (B) its score.
// Ties go to the smallest tag index.
void crf_viterbi(int64_t* best_tags, float* best_score, const float* emissions, const int64_t* lengths,
                 const float* transitions, const float* start, const float* end, const CrfSizes& s);

}  // namespace sk
