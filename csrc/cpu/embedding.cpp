// embedding, forward and backward.
//
// Forward:   y[i, :] = table[ids[i], :]                                  (a row copy per id)
// Backward:  dtable[r, :] = sum_{i : ids[i] = r, r != padding_idx} dy[i, :]   (/ count_r with scale_by_frequency)
//
// The backward never lets two threads add into one row: a stable LSD radix sort (8 bits a pass, over the id bits
// actually used) groups the positions by id, then threads take disjoint runs of ids, balanced by how many
// positions they hold, and each sums its rows' dy in ascending position order. The sum for each row is therefore
// bit-identical for every thread count, and the work is O(n * dim) plus O(n) per radix pass: the table size only
// enters the dense mode, which must zero the rest of the table's gradient anyway (each row is written once: the
// thread that owns a run of ids also zeroes the rows between them).
#include "seqkernels/embedding.h"

#include <algorithm>
#include <cstring>

#include "seqkernels/parallel.h"
#include "simd.h"

namespace sk {
namespace {

using V = simd::Vec;

// acc[:] += src[:] over dim floats
void add_row(float* acc, const float* src, int64_t dim) {
  int64_t j = 0;
  for (; j + V::W <= dim; j += V::W) V::storeu(acc + j, V::add(V::loadu(acc + j), V::loadu(src + j)));
  for (; j < dim; ++j) acc[j] += src[j];
}

// Runs fn(begin, end) over runs of plan rows, one per thread, holding about equal numbers of positions.
template <class Fn>
void for_each_row_run(const EmbeddingGradPlan& plan, int64_t dim, Fn fn) {
  const int64_t rows = static_cast<int64_t>(plan.rows.size());
  const int64_t total = plan.starts.back();
  const int64_t work = std::max(total, rows) * std::max<int64_t>(dim, 1);
  const int threads = static_cast<int>(std::min<int64_t>(num_threads(), std::max<int64_t>(1, work / 16384)));
  parallel_region(threads, [&](int t, int count) {
    // the first plan row whose first position is at or after the k-th share of positions
    auto row_at = [&](int k) {
      if (k == count) return rows;
      const int64_t target = total * k / count;
      return static_cast<int64_t>(std::lower_bound(plan.starts.begin(), plan.starts.end() - 1, target) -
                                  plan.starts.begin());
    };
    fn(t == 0 ? 0 : row_at(t), row_at(t + 1), t == 0, t + 1 == count);
  });
}

// acc = sum of the dy rows at plan row r's positions, in ascending position order (/ count when scaling).
void sum_row(const EmbeddingGradPlan& plan, int64_t r, const float* dy, int64_t dim, bool scale_by_frequency,
             float* acc) {
  const int64_t first = plan.starts[r], last = plan.starts[r + 1];
  std::memcpy(acc, dy + plan.order[first] * dim, sizeof(float) * dim);
  for (int64_t p = first + 1; p < last; ++p) add_row(acc, dy + plan.order[p] * dim, dim);
  if (scale_by_frequency && last - first > 1) {
    const float inv = 1.0f / static_cast<float>(last - first);
    for (int64_t j = 0; j < dim; ++j) acc[j] *= inv;
  }
}

}  // namespace

int64_t embedding_first_invalid_id(const int64_t* ids, int64_t n, int64_t num_embeddings) {
  for (int64_t i = 0; i < n; ++i)
    if (ids[i] < 0 || ids[i] >= num_embeddings) return i;
  return -1;
}

void embedding_forward(float* y, const int64_t* ids, const float* table, int64_t n, int64_t dim) {
  parallel_for(n, row_grain(dim), [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i) std::memcpy(y + i * dim, table + ids[i] * dim, sizeof(float) * dim);
  });
}

EmbeddingGradPlan embedding_grad_plan(const int64_t* ids, int64_t n, int64_t padding_idx) {
  EmbeddingGradPlan plan;
  std::vector<int64_t>& order = plan.order;
  order.reserve(static_cast<size_t>(n));
  int64_t largest = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (ids[i] == padding_idx) continue;
    order.push_back(i);
    largest = std::max(largest, ids[i]);
  }
  // Stable LSD radix sort of positions by id, 8 bits a pass.
  std::vector<int64_t> buffer(order.size());
  for (int shift = 0; shift < 64 && (largest >> shift) != 0; shift += 8) {
    int64_t offsets[257] = {0};
    for (int64_t i : order) ++offsets[((ids[i] >> shift) & 0xff) + 1];
    for (int b = 0; b < 256; ++b) offsets[b + 1] += offsets[b];
    for (int64_t i : order) buffer[static_cast<size_t>(offsets[(ids[i] >> shift) & 0xff]++)] = i;
    order.swap(buffer);
  }
  for (size_t p = 0; p < order.size(); ++p) {
    if (p == 0 || ids[order[p]] != ids[order[p - 1]]) {
      plan.rows.push_back(ids[order[p]]);
      plan.starts.push_back(static_cast<int64_t>(p));
    }
  }
  plan.starts.push_back(static_cast<int64_t>(order.size()));
  return plan;
}

void embedding_backward_sparse(float* values, const float* dy, const EmbeddingGradPlan& plan, int64_t dim,
                               bool scale_by_frequency) {
  for_each_row_run(plan, dim, [&](int64_t begin, int64_t end, bool, bool) {
    for (int64_t r = begin; r < end; ++r) sum_row(plan, r, dy, dim, scale_by_frequency, values + r * dim);
  });
}

void embedding_backward_dense(float* dtable, const float* dy, const EmbeddingGradPlan& plan, int64_t num_embeddings,
                              int64_t dim, bool scale_by_frequency) {
  // Each table row is written once: a thread zeroes the rows between its plan rows (the first thread also those
  // before the first plan row, the last those after the last) and writes its plan rows' sums.
  const int64_t rows = static_cast<int64_t>(plan.rows.size());
  for_each_row_run(plan, dim, [&](int64_t begin, int64_t end, bool first_run, bool last_run) {
    int64_t next_zero = first_run ? 0 : (begin < rows ? plan.rows[begin] : num_embeddings);
    for (int64_t r = begin; r < end; ++r) {
      std::memset(dtable + next_zero * dim, 0, sizeof(float) * static_cast<size_t>((plan.rows[r] - next_zero) * dim));
      sum_row(plan, r, dy, dim, scale_by_frequency, dtable + plan.rows[r] * dim);
      next_zero = plan.rows[r] + 1;
    }
    const int64_t zero_end = last_run ? num_embeddings : (end < rows ? plan.rows[end] : num_embeddings);
    std::memset(dtable + next_zero * dim, 0, sizeof(float) * static_cast<size_t>((zero_end - next_zero) * dim));
  });
}

}  // namespace sk
