// Linear-chain CRF: forward algorithm (NLL), forward-backward gradient, Viterbi. See seqkernels/crf.h.
//
// Sequences are independent, so the batch is split over threads; within a sequence the recurrences run
// step by step over (K from-tags) x (K to-tags) with max-subtracted log-sum-exp in float. K is a tag set
// (tens), so a step is a few hundred multiply-adds and the arrays of one sequence stay in L1.
// Backward recomputes beta per sequence in that thread's scratch and writes each sequence's transition /
// start / end gradient into its own slab; the slabs are summed in batch order afterwards (deterministic).
#include "seqkernels/crf.h"

#include <cmath>
#include <cstring>
#include <limits>

#include "scratch.h"
#include "seqkernels/parallel.h"

namespace sk {
namespace {

constexpr float kNegInf = -std::numeric_limits<float>::infinity();

// logsumexp_i (a[i] + b[i * stride]) over n terms.
inline float log_sum_exp_pair(const float* a, const float* b, int64_t stride, int64_t n) {
  float m = kNegInf;
  for (int64_t i = 0; i < n; ++i) m = std::fmax(m, a[i] + b[i * stride]);
  if (std::isinf(m)) return m;
  float total = 0.0f;
  for (int64_t i = 0; i < n; ++i) total += std::exp(a[i] + b[i * stride] - m);
  return m + std::log(total);
}

// The score of the given tag path of one sequence.
float path_score(const float* e, const int64_t* y, int64_t length, int64_t K, const float* trans,
                 const float* start, const float* end) {
  float score = start[y[0]] + e[y[0]];
  for (int64_t t = 1; t < length; ++t) score += trans[y[t - 1] * K + y[t]] + e[t * K + y[t]];
  return score + end[y[length - 1]];
}

}  // namespace

void crf_forward(float* nll, float* log_alpha, float* log_z, const float* emissions, const int64_t* tags,
                 const int64_t* lengths, const float* transitions, const float* start, const float* end,
                 const CrfSizes& s) {
  const int64_t T = s.steps, K = s.tags;
  parallel_for(s.batch, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const float* e = emissions + b * T * K;
      float* alpha = log_alpha + b * T * K;
      const int64_t L = lengths[b];
      for (int64_t j = 0; j < K; ++j) alpha[j] = start[j] + e[j];
      for (int64_t t = 1; t < L; ++t)
        for (int64_t j = 0; j < K; ++j)
          alpha[t * K + j] = e[t * K + j] + log_sum_exp_pair(alpha + (t - 1) * K, transitions + j, K, K);
      log_z[b] = log_sum_exp_pair(alpha + (L - 1) * K, end, 1, K);
      nll[b] = log_z[b] - path_score(e, tags + b * T, L, K, transitions, start, end);
    }
  });
}

void crf_backward(float* d_emissions, float* d_transitions, float* d_start, float* d_end, const float* dy,
                  const float* emissions, const int64_t* tags, const int64_t* lengths, const float* log_alpha,
                  const float* log_z, const float* transitions, const float* end, const CrfSizes& s) {
  const int64_t B = s.batch, T = s.steps, K = s.tags;
  const bool weights_wanted = d_transitions || d_start || d_end;
  // Per sequence: its d_transitions (K*K), d_start (K), d_end (K) slab, summed over b at the end.
  const int64_t slab = K * K + 2 * K;
  float* slabs = weights_wanted ? thread_scratch(ScratchPurpose::crf_weight_grads, B * slab) : nullptr;
  parallel_for(B, 1, [&](int64_t b0, int64_t b1) {
    float* beta = thread_scratch(ScratchPurpose::crf_workspace, 2 * T * K);
    float* next = beta + T * K;  // next[t * K + j] = e[t, j] + beta[t, j]
    for (int64_t b = b0; b < b1; ++b) {
      const float* e = emissions + b * T * K;
      const float* alpha = log_alpha + b * T * K;
      const int64_t* y = tags + b * T;
      const int64_t L = lengths[b];
      const float g = dy[b], lz = log_z[b];
      for (int64_t i = 0; i < K; ++i) beta[(L - 1) * K + i] = end[i];
      for (int64_t t = L - 2; t >= 0; --t) {
        for (int64_t j = 0; j < K; ++j) next[(t + 1) * K + j] = e[(t + 1) * K + j] + beta[(t + 1) * K + j];
        for (int64_t i = 0; i < K; ++i)
          beta[t * K + i] = log_sum_exp_pair(transitions + i * K, next + (t + 1) * K, 1, K);
      }
      float* w = weights_wanted ? slabs + b * slab : nullptr;
      if (w) std::memset(w, 0, sizeof(float) * slab);
      float* de = d_emissions ? d_emissions + b * T * K : nullptr;
      for (int64_t t = 0; t < L; ++t) {
        for (int64_t j = 0; j < K; ++j) {
          const float p = std::exp(alpha[t * K + j] + beta[t * K + j] - lz);
          if (de) de[t * K + j] = g * (p - (y[t] == j ? 1.0f : 0.0f));
          if (w && t == 0) w[K * K + j] = g * p;
          if (w && t == L - 1) w[K * K + K + j] = g * p;
        }
        if (w && t > 0)
          for (int64_t i = 0; i < K; ++i)
            for (int64_t j = 0; j < K; ++j)
              w[i * K + j] += g * std::exp(alpha[(t - 1) * K + i] + transitions[i * K + j] + next[t * K + j] - lz);
      }
      if (de) std::memset(de + L * K, 0, sizeof(float) * (T - L) * K);
      if (w) {
        for (int64_t t = 1; t < L; ++t) w[y[t - 1] * K + y[t]] -= g;
        w[K * K + y[0]] -= g;
        w[K * K + K + y[L - 1]] -= g;
      }
    }
  });
  if (!weights_wanted) return;
  float* outs[3] = {d_transitions, d_start, d_end};
  const int64_t offsets[3] = {0, K * K, K * K + K}, sizes[3] = {K * K, K, K};
  for (int part = 0; part < 3; ++part) {
    if (!outs[part]) continue;
    std::memset(outs[part], 0, sizeof(float) * sizes[part]);
    for (int64_t b = 0; b < B; ++b)
      for (int64_t i = 0; i < sizes[part]; ++i) outs[part][i] += slabs[b * slab + offsets[part] + i];
  }
}

void crf_viterbi(int64_t* best_tags, float* best_score, const float* emissions, const int64_t* lengths,
                 const float* transitions, const float* start, const float* end, const CrfSizes& s) {
  const int64_t T = s.steps, K = s.tags;
  parallel_for(s.batch, 1, [&](int64_t b0, int64_t b1) {
    // delta (2 x K rolling) and back-pointers (T x K) as floats holding small integers exactly.
    float* work = thread_scratch(ScratchPurpose::crf_workspace, 2 * K + T * K);
    float *delta = work, *prev = work + K, *back = work + 2 * K;
    for (int64_t b = b0; b < b1; ++b) {
      const float* e = emissions + b * T * K;
      int64_t* out = best_tags + b * T;
      const int64_t L = lengths[b];
      for (int64_t j = 0; j < K; ++j) delta[j] = start[j] + e[j];
      for (int64_t t = 1; t < L; ++t) {
        std::memcpy(prev, delta, sizeof(float) * K);
        for (int64_t j = 0; j < K; ++j) {
          int64_t arg = 0;
          float best = prev[0] + transitions[j];
          for (int64_t i = 1; i < K; ++i) {
            const float v = prev[i] + transitions[i * K + j];
            if (v > best) best = v, arg = i;
          }
          delta[j] = best + e[t * K + j];
          back[t * K + j] = static_cast<float>(arg);
        }
      }
      int64_t arg = 0;
      float best = delta[0] + end[0];
      for (int64_t j = 1; j < K; ++j)
        if (delta[j] + end[j] > best) best = delta[j] + end[j], arg = j;
      best_score[b] = best;
      for (int64_t t = L - 1; t >= 0; --t) {
        out[t] = arg;
        if (t > 0) arg = static_cast<int64_t>(back[t * K + arg]);
      }
      for (int64_t t = L; t < T; ++t) out[t] = -1;
    }
  });
}

}  // namespace sk
