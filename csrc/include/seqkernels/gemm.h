// GEMM: C = alpha * op(A) @ op(B) + beta * C in float32, row-major, with leading dimensions (BLAS's math;
// the argument order is the kernels' convention, README.md: C first, then A and B, then a GemmShape).
//
//   op(A) is M x K: A itself (M x K, lda >= K) or, with trans_a, the transpose of A stored K x M (lda >= M).
//   op(B) is K x N: B itself (K x N, ldb >= N) or, with trans_b, the transpose of B stored N x K (ldb >= K).
//   C is M x N with ldc >= N. beta == 0 means C is write-only (NaNs already in C do not propagate),
//   as in BLAS. K == 0 gives C = beta * C. A and B are only read, so their rows may also overlap
//   (lda < K, or ldb < N): conv1d reads its sliding windows that way.
//
// Multithreaded over sk::num_threads(); runs serially when called inside a parallel region, so other
// kernels may call it per tile or per time step.
#pragma once
#include <cstdint>

namespace sk {

// The sizes and options of C = alpha · op(A) · op(B) + beta · C, written {M, N, K, trans_a, trans_b, alpha, beta}.
struct GemmShape {
  int64_t M = 0, N = 0, K = 0;
  bool trans_a = false, trans_b = false;
  float alpha = 1.0f, beta = 0.0f;
};

// C (M, N; rows ldc apart) = alpha · op(A) · op(B) + beta · C;  A (M, K) or, trans_a, (K, M), rows lda apart;
// B (K, N) or, trans_b, (N, K), rows ldb apart.
void gemm(float* C, int64_t ldc, const float* A, int64_t lda, const float* B, int64_t ldb, const GemmShape& s);

// batch independent GEMMs (attention heads): matrix b of C, A, B starts at ptr + b * stride_{c,a,b}.
void gemm_strided_batched(float* C, int64_t ldc, int64_t stride_c, const float* A, int64_t lda, int64_t stride_a,
                          const float* B, int64_t ldb, int64_t stride_b, const GemmShape& s, int64_t batch);

// B packed once, reused by many GEMMs with the same B (an RNN's recurrent weights at every time step,
// a layer's weights at every batch): gemm_pack_b writes op(B) (K x N, from B as gemm reads it with trans_b and
// ldb) into `packed`, which must hold gemm_packed_b_size(K, N) floats; gemm_prepacked_b then computes
// C = alpha · op(A) · packed + beta · C without re-packing B (s.trans_b is not read: the packing applied it).
int64_t gemm_packed_b_size(int64_t K, int64_t N);
void gemm_pack_b(float* packed, const float* B, int64_t ldb, bool trans_b, int64_t K, int64_t N);
void gemm_prepacked_b(float* C, int64_t ldc, const float* A, int64_t lda, const float* packed_b, const GemmShape& s);

// Name of the micro-kernel the build selected, e.g. "avx512 14x32".
const char* gemm_kernel_name();

}  // namespace sk
