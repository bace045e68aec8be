// GEMM, the Goto/BLIS way:  C = alpha * op(A) @ op(B) + beta * C   (float32, row-major).
//
//   for jc in N by NC:                    B block   (KC x NC) packed once, lives in L3
//     for pc in K by KC:
//       pack op(B)[pc:pc+KC, jc:jc+NC] into NR-wide panels
//       for ic in M by MC:                A block   (MC x KC) packed, lives in L2
//         pack op(A)[ic:ic+MC, pc:pc+KC] into MR-tall panels
//         for jr in NC by NR, ir in MC by MR:
//           micro-kernel: an MR x NR tile of C held in registers, one rank-1 update per k
//           (MR broadcasts of A times NR/W vector loads of B, MR*NR/W FMAs).
//
// Packing makes every micro-kernel read contiguous, aligned memory whatever the transposes and leading
// dimensions, and zero-pads the edges, so one kernel serves every shape; partial tiles are computed
// into a scratch tile and merged. Threads split C into disjoint column (or row) stripes and each runs
// the blocked loop above on its own stripe with its own pack buffers: no barriers, no shared writes.
#include "seqkernels/gemm.h"

#include <algorithm>
#include <array>
#include <cstring>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "seqkernels/parallel.h"
#include "scratch.h"
#include "simd.h"
#include "transpose.h"

namespace sk {
namespace {

using V = simd::Vec;

// Register tile: MR rows x NV vectors. MR*NV accumulators + NV B vectors + 1 broadcast must fit the
// register file (32 zmm for AVX-512, 16 ymm for AVX2, 32 q for NEON, 16 xmm for the portable path).
#if defined(__AVX512F__)
constexpr int MR = 14, NV = 2;
#elif defined(__AVX2__) && defined(__FMA__)
constexpr int MR = 6, NV = 2;
#elif defined(__ARM_NEON)
constexpr int MR = 8, NV = 3;
#else
constexpr int MR = 4, NV = 2;
#endif
constexpr int NR = NV * V::W;
// Cache blocking: an MR x KC panel of A stays in L1 while the KC x NR panels of B stream from L2; the
// MC x KC A block fits L2; the KC x NC B block fits (a share of) L3. KC = 512 measured best on Zen 4
// (2 threads, 2048^3: 198 GFLOP/s at KC = 256, 201-208 at 512; fewer passes over C).
constexpr int64_t KC = 512;
constexpr int64_t MC = MR * 12;
constexpr int64_t NC = NR * 64;

// Packing that transposes reads rows of the source and writes columns of a panel; it goes k-strip by
// k-strip (16 floats: one cache line of each source row) so the panel rows being written stay in L1.
constexpr int64_t kTransposeStrip = 16;

int64_t round_up(int64_t x, int64_t m) { return (x + m - 1) / m * m; }

#if defined(__AVX512F__)
// One MR-row panel of row-major A (mr <= MR rows).
void pack_a_panel_rows(const float* A, int64_t lda, int64_t mr, int64_t kc, float* dst) {
  static_assert(MR <= 16, "a panel column must fit one register");
  transpose_rows_into_columns(A, lda, mr, kc, dst, MR, static_cast<__mmask16>((1u << MR) - 1));
}

// One MR-row panel of transposed A (stored K x M: a panel column is mr <= MR consecutive floats).
void pack_a_panel_columns(const float* A, int64_t lda, int64_t mr, int64_t kc, float* dst) {
  const __mmask16 panel_lanes = static_cast<__mmask16>((1u << MR) - 1), rows = static_cast<__mmask16>((1u << mr) - 1);
  for (int64_t k = 0; k < kc; ++k) _mm512_mask_storeu_ps(dst + k * MR, panel_lanes, _mm512_maskz_loadu_ps(rows, A + k * lda));
}
#endif

// Packs op(A)[0:mc, 0:kc] into MR-row panels, k-major: panel p holds dst[k*MR + i] = op(A)[p*MR+i][k].
void pack_a(bool trans, const float* A, int64_t lda, int64_t mc, int64_t kc, float* dst) {
  for (int64_t i0 = 0; i0 < mc; i0 += MR, dst += MR * kc) {
    const int64_t mr = std::min<int64_t>(MR, mc - i0);
#if defined(__AVX512F__)
    if (trans)
      pack_a_panel_columns(A + i0, lda, mr, kc, dst);
    else
      pack_a_panel_rows(A + i0 * lda, lda, mr, kc, dst);
#else
    if (mr < MR) std::memset(dst, 0, sizeof(float) * MR * kc);
    if (!trans) {  // a transpose, in k-strips so the strip of dst being written stays in L1
      for (int64_t k0 = 0; k0 < kc; k0 += kTransposeStrip) {
        const int64_t kn = std::min(kTransposeStrip, kc - k0);
        for (int64_t i = 0; i < mr; ++i) {
          const float* row = A + (i0 + i) * lda + k0;
          for (int64_t k = 0; k < kn; ++k) dst[(k0 + k) * MR + i] = row[k];
        }
      }
    } else {
      for (int64_t k = 0; k < kc; ++k) {
        const float* col = A + k * lda + i0;
        for (int64_t i = 0; i < mr; ++i) dst[k * MR + i] = col[i];
      }
    }
#endif
  }
}

// Packs op(B)[0:kc, 0:nc] into NR-column panels: panel p holds dst[k*NR + j] = op(B)[k][p*NR+j].
void pack_b(bool trans, const float* B, int64_t ldb, int64_t kc, int64_t nc, float* dst) {
  for (int64_t j0 = 0; j0 < nc; j0 += NR, dst += NR * kc) {
    const int64_t nr = std::min<int64_t>(NR, nc - j0);
    if (nr < NR) std::memset(dst, 0, sizeof(float) * NR * kc);
    if (!trans) {
      if (nr == NR)  // a constant-size copy: inlined as NV vector moves, not a memcpy call per row
        for (int64_t k = 0; k < kc; ++k) std::memcpy(dst + k * NR, B + k * ldb + j0, sizeof(float) * NR);
      else
        for (int64_t k = 0; k < kc; ++k) std::memcpy(dst + k * NR, B + k * ldb + j0, sizeof(float) * nr);
    } else {
#if defined(__AVX512F__)
      static_assert(NR % 16 == 0, "a panel row is whole registers");
      for (int64_t h = 0; h < NR; h += 16)  // each 16-column part of the panel: 16 rows of B transposed
        transpose_rows_into_columns(B + (j0 + h) * ldb, ldb, std::clamp<int64_t>(nr - h, 0, 16), kc, dst + h, NR,
                                    0xFFFF);
#else
      for (int64_t k0 = 0; k0 < kc; k0 += kTransposeStrip) {  // a transpose, in k-strips as in pack_a
        const int64_t kn = std::min(kTransposeStrip, kc - k0);
        for (int64_t j = 0; j < nr; ++j) {
          const float* row = B + (j0 + j) * ldb + k0;
          for (int64_t k = 0; k < kn; ++k) dst[(k0 + k) * NR + j] = row[k];
        }
      }
#endif
    }
  }
}

// c[R x NR] = alpha * (a_panel @ b_panel) + beta * c for the first R <= MR rows of an MR-row A panel,
// beta == 0 leaving c unread. R < MR serves the bottom edge without computing padding rows.
template <int R>
void micro_kernel(int64_t kc, const float* __restrict a, const float* __restrict b, float* c, int64_t ldc,
                  float alpha, float beta) {
  V::T acc[R][NV];
#pragma GCC unroll 16
  for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[i][v] = V::zero();

  for (int64_t k = 0; k < kc; ++k, a += MR, b += NR) {
    V::T bv[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) bv[v] = V::loadu(b + v * V::W);
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i) {
      const V::T ai = V::set1(a[i]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[i][v] = V::fmadd(ai, bv[v], acc[i][v]);
    }
  }

  const V::T va = V::set1(alpha);
  if (beta == 0.0f) {
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) V::storeu(c + i * ldc + v * V::W, V::mul(va, acc[i][v]));
  } else {
    const V::T vb = V::set1(beta);
#pragma GCC unroll 16
    for (int i = 0; i < R; ++i)
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) {
        float* p = c + i * ldc + v * V::W;
        V::storeu(p, V::fmadd(va, acc[i][v], V::mul(vb, V::loadu(p))));
      }
  }
}

using MicroKernel = void (*)(int64_t, const float*, const float*, float*, int64_t, float, float);

template <int... R>
constexpr std::array<MicroKernel, sizeof...(R)> micro_kernel_table(std::integer_sequence<int, R...>) {
  return {&micro_kernel<R + 1>...};
}
// kernel_for_rows[r - 1] computes r rows.
constexpr auto kernel_for_rows = micro_kernel_table(std::make_integer_sequence<int, MR>{});

// Any tile: mr <= MR rows in place; a right-edge tile (nr < NR) goes through a scratch tile first.
void tile_kernel(int64_t kc, const float* a, const float* b, float* c, int64_t ldc, int64_t mr, int64_t nr,
                 float alpha, float beta) {
  const MicroKernel kernel = kernel_for_rows[mr - 1];
  if (nr == NR) {
    kernel(kc, a, b, c, ldc, alpha, beta);
    return;
  }
  alignas(64) float tile[MR * NR];
  kernel(kc, a, b, tile, NR, alpha, 0.0f);
  for (int64_t i = 0; i < mr; ++i)
    for (int64_t j = 0; j < nr; ++j) {
      float& out = c[i * ldc + j];
      out = beta == 0.0f ? tile[i * NR + j] : tile[i * NR + j] + beta * out;
    }
}

void scale_c(int64_t M, int64_t N, float beta, float* C, int64_t ldc) {
  for (int64_t i = 0; i < M; ++i) {
    float* row = C + i * ldc;
    if (beta == 0.0f)
      std::fill(row, row + N, 0.0f);
    else
      for (int64_t j = 0; j < N; ++j) row[j] *= beta;
  }
}

// Where the blocked loop gets its packed B panels from. block(jc, nc, pc, kc) returns the panel of
// columns jc..jc+NR for rows pc..pc+kc (its rows NR floats apart) and the distance between panels.
struct BlockOfB {
  const float* first_panel;
  int64_t panel_stride;
};

// Packed on the fly into a per-thread buffer (panels kc*NR apart).
struct OnTheFlyB {
  bool trans;
  const float* B;
  int64_t ldb;
  BlockOfB block(int64_t jc, int64_t nc, int64_t pc, int64_t kc) const {
    float* buffer = thread_scratch(ScratchPurpose::gemm_packed_b, KC * round_up(std::min(NC, nc), NR));
    pack_b(trans, trans ? B + jc * ldb + pc : B + pc * ldb + jc, ldb, kc, nc, buffer);
    return {buffer, kc * NR};
  }
  OnTheFlyB columns_from(int64_t j0) const { return {trans, trans ? B + j0 * ldb : B + j0, ldb}; }
};

// Packed once by gemm_pack_b: panel-major, each NR-column panel holding all K rows.
struct PrepackedB {
  const float* packed;
  int64_t K;
  BlockOfB block(int64_t jc, int64_t, int64_t pc, int64_t) const {
    return {packed + (jc / NR) * K * NR + pc * NR, K * NR};
  }
  PrepackedB columns_from(int64_t j0) const { return {packed + (j0 / NR) * K * NR, K}; }
};

template <class BSource>
void gemm_serial(bool ta, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                 const BSource& b_source, float beta, float* C, int64_t ldc) {
  float* packed_a = thread_scratch(ScratchPurpose::gemm_packed_a, KC * round_up(std::min(MC, M), MR));
  for (int64_t jc = 0; jc < N; jc += NC) {
    const int64_t nc = std::min(NC, N - jc);
    for (int64_t pc = 0; pc < K; pc += KC) {
      const int64_t kc = std::min(KC, K - pc);
      const float beta_block = pc == 0 ? beta : 1.0f;
      const BlockOfB b_block = b_source.block(jc, nc, pc, kc);
      for (int64_t ic = 0; ic < M; ic += MC) {
        const int64_t mc = std::min(MC, M - ic);
        pack_a(ta, ta ? A + pc * lda + ic : A + ic * lda + pc, lda, mc, kc, packed_a);
        for (int64_t jr = 0; jr < nc; jr += NR) {
          const int64_t nr = std::min<int64_t>(NR, nc - jr);
          const float* b_panel = b_block.first_panel + (jr / NR) * b_block.panel_stride;
          for (int64_t ir = 0; ir < mc; ir += MR) {
            const int64_t mr = std::min<int64_t>(MR, mc - ir);
            const float* a_panel = packed_a + ir * kc;
            float* c_tile = C + (ic + ir) * ldc + jc + jr;
            tile_kernel(kc, a_panel, b_panel, c_tile, ldc, mr, nr, alpha, beta_block);
          }
        }
      }
    }
  }
}

// Below this many flops per thread, waking another thread costs more than it saves (and on a busy
// machine a descheduled worker can stall the whole region).
constexpr double kMinFlopsPerThread = 1 << 20;  // about 10 us of one core: well above fork-join cost

// Largest op(B) (in floats) packed once and shared by the threads of a row-split GEMM (scratch kept per
// calling thread, so bounded): 16 MB; a Linear weight of 2048 x 2048 fits.
constexpr int64_t kMaxSharedB = int64_t{1} << 22;

// Splits C into per-thread stripes of whole register tiles (along whichever of M, N has more tiles)
// and runs the serial blocked loop on each.
template <class BSource>
void gemm_threaded(bool ta, int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda,
                   const BSource& b_source, float beta, float* C, int64_t ldc) {
  if (M <= 0 || N <= 0) return;
  if (K <= 0 || alpha == 0.0f) {
    scale_c(M, N, beta, C, ldc);
    return;
  }
  const double flops = 2.0 * double(M) * double(N) * double(K);
  int threads = in_parallel_region() ? 1 : num_threads();
  threads = static_cast<int>(std::min<double>(threads, std::max(1.0, flops / kMinFlopsPerThread)));
  const int64_t m_tiles = (M + MR - 1) / MR, n_tiles = (N + NR - 1) / NR;
  const bool split_n = n_tiles >= m_tiles;
  threads = static_cast<int>(std::min<int64_t>(threads, split_n ? n_tiles : m_tiles));
  if (threads <= 1) {
    gemm_serial(ta, M, N, K, alpha, A, lda, b_source, beta, C, ldc);
    return;
  }
  if constexpr (std::is_same_v<BSource, OnTheFlyB>) {
    // Split by rows, every thread would pack all of op(B) for itself: pack it once instead, the threads
    // sharing the packing, and let each thread read that one copy.
    const int64_t packed_size = gemm_packed_b_size(K, N);
    if (!split_n && packed_size <= kMaxSharedB) {
      float* packed = thread_scratch(ScratchPurpose::gemm_shared_b, packed_size);
      gemm_pack_b(packed, b_source.B, b_source.ldb, b_source.trans, K, N);
      gemm_threaded(ta, M, N, K, alpha, A, lda, PrepackedB{packed, K}, beta, C, ldc);
      return;
    }
  }
  parallel_region(threads, [&](int t, int count) {
    const int64_t tiles = split_n ? n_tiles : m_tiles;
    const int64_t t0 = tiles * t / count, t1 = tiles * (t + 1) / count;
    if (t0 >= t1) return;
    if (split_n) {
      const int64_t j0 = t0 * NR, j1 = std::min(N, t1 * NR);
      gemm_serial(ta, M, j1 - j0, K, alpha, A, lda, b_source.columns_from(j0), beta, C + j0, ldc);
    } else {
      const int64_t i0 = t0 * MR, i1 = std::min(M, t1 * MR);
      gemm_serial(ta, i1 - i0, N, K, alpha, ta ? A + i0 : A + i0 * lda, lda, b_source, beta, C + i0 * ldc, ldc);
    }
  });
}

// C = alpha * A B^T + beta * C with the rows of A (M x K) and of B (N x K) both contiguous: every C
// element is a dot product, so nothing is packed. For few rows of A (y = x W^T with a Linear weight W)
// or few columns of C (a matrix-vector product). Vectorised along K, four columns of C at a time so
// each load of A feeds four FMAs; threads split (row block, column block) tasks.
constexpr int kDotColumns = 4;
constexpr int64_t kDotRowBlock = 16;

void dot_products(int64_t M, int64_t N, int64_t K, float alpha, const float* A, int64_t lda, const float* B,
                  int64_t ldb, float beta, float* C, int64_t ldc) {
  const double flops = 2.0 * double(M) * double(N) * double(K);
  const int64_t col_blocks = (N + kDotColumns - 1) / kDotColumns, row_blocks = (M + kDotRowBlock - 1) / kDotRowBlock;
  const int64_t tasks = col_blocks * row_blocks;
  const int64_t grain = std::max<int64_t>(1, static_cast<int64_t>(tasks * kMinFlopsPerThread / flops));
  parallel_for(tasks, grain, [&](int64_t t0, int64_t t1) {
    for (int64_t task = t0; task < t1; ++task) {
      const int64_t j0 = (task % col_blocks) * kDotColumns, jn = std::min<int64_t>(kDotColumns, N - j0);
      const int64_t i0 = (task / col_blocks) * kDotRowBlock, i1 = std::min(M, i0 + kDotRowBlock);
      const float* rows[kDotColumns];
      for (int c = 0; c < kDotColumns; ++c) rows[c] = B + (j0 + std::min<int64_t>(c, jn - 1)) * ldb;
      for (int64_t i = i0; i < i1; ++i) {
        const float* a = A + i * lda;
        V::T acc[kDotColumns];
        for (int c = 0; c < kDotColumns; ++c) acc[c] = V::zero();
        int64_t k = 0;
        for (; k + V::W <= K; k += V::W) {
          const V::T av = V::loadu(a + k);
#pragma GCC unroll 4
          for (int c = 0; c < kDotColumns; ++c) acc[c] = V::fmadd(av, V::loadu(rows[c] + k), acc[c]);
        }
        for (int64_t c = 0; c < jn; ++c) {
          float dot = V::reduce_add(acc[c]);
          for (int64_t kk = k; kk < K; ++kk) dot += a[kk] * rows[c][kk];
          float& out = C[i * ldc + j0 + c];
          out = beta == 0.0f ? alpha * dot : alpha * dot + beta * out;
        }
      }
    }
  });
}

// Few rows of A against row-major B (K x N): stream B row after row, in its memory order, and
// accumulate into the rows of C, which stay in L1: C[i, :] += (alpha * A[i, k]) * B[k, :], four rows
// of B per pass so each load and store of C serves four FMAs. Threads split the columns.
constexpr int64_t kStreamingMaxRows = 8;

void small_m_row_streaming(bool ta, int64_t M, int64_t N, int64_t K, float alpha, const float* A,
                           int64_t lda, const float* B, int64_t ldb, float beta, float* C, int64_t ldc) {
  auto a_at = [&](int64_t i, int64_t k) { return alpha * (ta ? A[k * lda + i] : A[i * lda + k]); };
  const double flops = 2.0 * double(M) * double(N) * double(K);
  const int64_t chunks = (N + 63) / 64;  // columns in chunks of 64 floats (one cache line per row of C)
  const int64_t grain = std::max<int64_t>(1, static_cast<int64_t>(chunks * kMinFlopsPerThread / flops));
  parallel_for(chunks, grain, [&](int64_t c0, int64_t c1) {
    const int64_t j0 = c0 * 64, j1 = std::min(N, c1 * 64);
    const int64_t vec_end = j0 + (j1 - j0) / V::W * V::W;
    scale_c(M, j1 - j0, beta, C + j0, ldc);
    int64_t k = 0;
    for (; k + 4 <= K; k += 4) {
      const float *b0 = B + k * ldb, *b1 = b0 + ldb, *b2 = b1 + ldb, *b3 = b2 + ldb;
      for (int64_t i = 0; i < M; ++i) {
        const float s0 = a_at(i, k), s1 = a_at(i, k + 1), s2 = a_at(i, k + 2), s3 = a_at(i, k + 3);
        const V::T v0 = V::set1(s0), v1 = V::set1(s1), v2 = V::set1(s2), v3 = V::set1(s3);
        float* c = C + i * ldc;
        int64_t j = j0;
        for (; j < vec_end; j += V::W) {
          V::T acc = V::loadu(c + j);
          acc = V::fmadd(v0, V::loadu(b0 + j), acc);
          acc = V::fmadd(v1, V::loadu(b1 + j), acc);
          acc = V::fmadd(v2, V::loadu(b2 + j), acc);
          acc = V::fmadd(v3, V::loadu(b3 + j), acc);
          V::storeu(c + j, acc);
        }
        for (; j < j1; ++j) c[j] += s0 * b0[j] + s1 * b1[j] + s2 * b2[j] + s3 * b3[j];
      }
    }
    for (; k < K; ++k) {
      const float* b0 = B + k * ldb;
      for (int64_t i = 0; i < M; ++i) {
        const float s0 = a_at(i, k);
        const V::T v0 = V::set1(s0);
        float* c = C + i * ldc;
        int64_t j = j0;
        for (; j < vec_end; j += V::W) V::storeu(c + j, V::fmadd(v0, V::loadu(b0 + j), V::loadu(c + j)));
        for (; j < j1; ++j) c[j] += s0 * b0[j];
      }
    }
  });
}

}  // namespace

void gemm(float* C, int64_t ldc, const float* A, int64_t lda, const float* B, int64_t ldb, const GemmShape& s) {
  const bool ta = s.trans_a, tb = s.trans_b;
  const int64_t M = s.M, N = s.N, K = s.K;
  const float alpha = s.alpha, beta = s.beta;
  // Few rows: packing B would cost as much as the product itself (measured crossovers on Zen 4).
  const bool nonempty = M > 0 && N > 0 && K > 0 && alpha != 0.0f;
  const bool few_rows = nonempty && M < (tb ? MR : kStreamingMaxRows + 1);
  if (few_rows && tb) {
    if (!ta) return dot_products(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    // A stored K x M: copy its M rows out contiguously first (M*K floats, cheap for small M).
    std::vector<float> rows(static_cast<size_t>(M * K));
    for (int64_t k = 0; k < K; ++k)
      for (int64_t i = 0; i < M; ++i) rows[i * K + k] = A[k * lda + i];
    return dot_products(M, N, K, alpha, rows.data(), K, B, ldb, beta, C, ldc);
  }
  // Few columns (matrix-vector products): the rows of A dotted with op(B)'s columns, gathered
  // contiguously first when B is row-major (N*K floats, cheap for small N).
  if (nonempty && !ta && !few_rows && N <= kDotColumns) {
    if (tb) return dot_products(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    std::vector<float> columns(static_cast<size_t>(N * K));
    for (int64_t k = 0; k < K; ++k)
      for (int64_t j = 0; j < N; ++j) columns[j * K + k] = B[k * ldb + j];
    return dot_products(M, N, K, alpha, A, lda, columns.data(), K, beta, C, ldc);
  }
  if (few_rows) return small_m_row_streaming(ta, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  gemm_threaded(ta, M, N, K, alpha, A, lda, OnTheFlyB{tb, B, ldb}, beta, C, ldc);
}

int64_t gemm_packed_b_size(int64_t K, int64_t N) { return round_up(std::max<int64_t>(N, 0), NR) * std::max<int64_t>(K, 0); }

void gemm_pack_b(float* packed, const float* B, int64_t ldb, bool trans_b, int64_t K, int64_t N) {
  // Panel-major: NR-column panel p holds all K rows, so any (k-block, column-stripe) is addressable.
  parallel_for((N + NR - 1) / NR, 4, [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t j0 = p * NR, nc = std::min<int64_t>(NR, N - j0);
      pack_b(trans_b, trans_b ? B + j0 * ldb : B + j0, ldb, K, nc, packed + p * K * NR);
    }
  });
}

void gemm_prepacked_b(float* C, int64_t ldc, const float* A, int64_t lda, const float* packed_b, const GemmShape& s) {
  gemm_threaded(s.trans_a, s.M, s.N, s.K, s.alpha, A, lda, PrepackedB{packed_b, s.K}, s.beta, C, ldc);
}

void gemm_strided_batched(float* C, int64_t ldc, int64_t stride_c, const float* A, int64_t lda, int64_t stride_a,
                          const float* B, int64_t ldb, int64_t stride_b, const GemmShape& s, int64_t batch) {
  if (batch <= 0 || s.M <= 0 || s.N <= 0) return;
  const int threads = in_parallel_region() ? 1 : num_threads();
  // Whole matrices per thread when the batch divides evenly or is large; otherwise let each GEMM
  // use every thread.
  const bool per_matrix = threads > 1 && (batch % threads == 0 || batch >= 4 * threads);
  auto run = [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b)
      gemm(C + b * stride_c, ldc, A + b * stride_a, lda, B + b * stride_b, ldb, s);
  };
  if (per_matrix)
    parallel_for(batch, 1, run);
  else
    run(0, batch);
}

const char* gemm_kernel_name() {
  static const std::string name =
      std::string(V::name) + " " + std::to_string(MR) + "x" + std::to_string(NR);
  return name.c_str();
}

}  // namespace sk
