// embedding: row lookup y = table[ids] in float32, and its gradient as a deterministic scatter-add.
//
//   table (num_embeddings, dim), ids (n) int64 (any shape, flattened), y (n, dim).
//
// The kernels trust ids: call embedding_first_invalid_id first (the Python binding does, and raises
// IndexError before anything is written).
#pragma once
#include <cstdint>
#include <vector>

namespace sk {

// Index into ids (n) of the first id outside [0, num_embeddings), or -1 when all are valid.
int64_t embedding_first_invalid_id(const int64_t* ids, int64_t n, int64_t num_embeddings);

// y (n, dim): y[i, :] = table[ids[i], :];  ids (n), table (num_embeddings, dim).
void embedding_forward(float* y, const int64_t* ids, const float* table, int64_t n, int64_t dim);

// The positions of ids (n) grouped by id: order[starts[r] .. starts[r+1]) are the positions i (ascending) with
// ids[i] == rows[r]; rows ascend. Positions whose id is padding_idx (>= 0) are left out. Built by a stable
// radix sort, so its cost grows with n (and the bit width of the largest id), never with the table size.
struct EmbeddingGradPlan {
  std::vector<int64_t> rows, starts, order;
};
EmbeddingGradPlan embedding_grad_plan(const int64_t* ids, int64_t n, int64_t padding_idx);

// Sparse gradient: values (plan.rows.size(), dim), values[r, :] = sum over positions i of rows[r] (ascending i)
// of dy[i, :] (scaled by 1 / count when scale_by_frequency);  dy (n, dim).
void embedding_backward_sparse(float* values, const float* dy, const EmbeddingGradPlan& plan, int64_t dim,
                               bool scale_by_frequency);

// Dense gradient: dtable (num_embeddings, dim) overwritten with zeros except the plan's rows, which hold the
// sparse values;  dy (n, dim). The sums are identical whatever the thread count.
void embedding_backward_dense(float* dtable, const float* dy, const EmbeddingGradPlan& plan, int64_t num_embeddings,
                              int64_t dim, bool scale_by_frequency);

}  // namespace sk
