// GEMM: C = alpha * op(A) @ op(B) + beta * C in float32, row-major, with leading dimensions.
//
//   op(A) is M x K: A itself (M x K, lda >= K) or, with trans_a, the transpose of A stored K x M (lda >= M).
//   op(B) is K x N: B itself (K x N, ldb >= N) or, with trans_b, the transpose of B stored N x K (ldb >= K).
//   C is M x N with ldc >= N. beta == 0 means C is write-only (NaNs already in C do not propagate),
//   as in BLAS. K == 0 gives C = beta * C.
//
// Multithreaded over sk::num_threads(); runs serially when called inside a parallel region, so other
// kernels may call it per tile or per time step.
#pragma once
#include <cstdint>

namespace sk {

void gemm(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
          int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc);

// batch independent GEMMs; matrix b of each operand starts at ptr + b * stride (attention heads).
void gemm_strided_batched(bool trans_a, bool trans_b, int64_t M, int64_t N, int64_t K, float alpha,
                          const float* A, int64_t lda, int64_t stride_a, const float* B, int64_t ldb,
                          int64_t stride_b, float beta, float* C, int64_t ldc, int64_t stride_c,
                          int64_t batch);

// B packed once, reused by many GEMMs with the same B (an RNN's recurrent weights at every time step,
// a layer's weights at every batch): gemm_pack_b writes op(B) (K x N, same trans_b/ldb convention as
// gemm) into `packed`, which must hold gemm_packed_b_size(K, N) floats; gemm_prepacked_b then computes
// C = alpha * op(A) @ op(B) + beta * C without re-packing B.
int64_t gemm_packed_b_size(int64_t K, int64_t N);
void gemm_pack_b(bool trans_b, int64_t K, int64_t N, const float* B, int64_t ldb, float* packed);
void gemm_prepacked_b(bool trans_a, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                      const float* packed_b, float beta, float* C, int64_t ldc);

// Name of the micro-kernel the build selected, e.g. "avx512 14x32".
const char* gemm_kernel_name();

}  // namespace sk
