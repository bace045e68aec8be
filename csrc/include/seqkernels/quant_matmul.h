// Matrix products on GGUF-quantized weights, kept in their packed blocks and unpacked in registers.
//
// Formats (ggml's, 32 weights per block, rows of K / 32 blocks stored back to back; d, m are IEEE fp16):
//   Q4_0  {d, qs[16]}     18 bytes   w_i = d (q_i - 8),  q_i in [0, 15]
//   Q4_1  {d, m, qs[16]}  20 bytes   w_i = d q_i + m,    q_i in [0, 15]
//   Q8_0  {d, qs[32]}     34 bytes   w_i = d q_i,        q_i in [-128, 127]
// A 4-bit block keeps element i in the low nibble of qs[i] and element i + 16 in its high nibble.
//
// Products: y (M, N) = x (M, K) · Wᵀ (+ bias), W (N, K) quantized, x float32. Each row of x is first
// quantized to 8 bits per block of 32 (a_i = round(x_i / d_a), d_a = max|x_i| / 127), so every block
// product is an integer dot product (AVX-512 VNNI dpbusd, AVX2 maddubs, or scalar):
//   y[m, n] = sum_b  d_w d_a · sum_i q_i a_i  +  c_w · d_a · sum_i a_i
// with c_w = m (Q4_1), -8 d (Q4_0), and for Q8_0 -128 d on the VNNI path (which reads q_i + 128 as
// unsigned bytes) or 0 elsewhere. The result equals dequantize(W) · dequantize(quantize8(x)) up to float32
// rounding of the sums; the error against the float product is that of the 8-bit activations
// (|Δa_i| <= d_a / 2 per element).
//
// Threads split the output columns N (weight rows): the batch-1 decode product (M = 1) streams each weight
// byte once and is memory-bound; with M > 1 (prefill) each unpacked weight block is reused for a tile of
// rows of x. On AVX-512 VNNI with M < 8, four blocks of a weight row are permuted in registers into one zmm
// against activations regrouped to match (two dpbusd per four blocks), each row's stream prefetched ahead
// (the hardware prefetchers stop at the 4 KiB pages of the mapped file); with M >= 8, panels of 32 weight
// rows are unpacked once into VNNI's rows-in-lanes layout (thread scratch) and a 32-row x 6-token register
// tile keeps int32 sums per block. K must be a multiple of 32 (every GGUF tensor's is); the binding
// validates it.
#pragma once
#include <cstdint>

namespace sk {

enum class QuantType : int { q4_0 = 2, q4_1 = 3, q8_0 = 8 };  // ggml's type ids

constexpr int64_t kQuantBlock = 32;
int64_t quant_block_bytes(QuantType type);  // 18, 20, 34
inline int64_t quant_row_bytes(QuantType type, int64_t K) { return K / kQuantBlock * quant_block_bytes(type); }

// One weight matrix of a product: `rows` rows of K / 32 blocks each, starting at `data`.
struct QuantWeight {
  const void* data = nullptr;
  int64_t rows = 0;
};

struct QuantMatmulSizes {
  int64_t M = 0, K = 0;
  QuantType type = QuantType::q8_0;
  int64_t ldy = 0;  // row stride of y, >= the total rows of the weights
};

// y[m, :] = x[m, :] · [W_0; W_1; ...]ᵀ + bias: the `count` weight matrices (same type and K) are stacked
// along N without copying (fused q/k/v or gate/up projections), N = sum of their rows.
//   y (M, ldy), x (M, K), weights[i] (rows_i, K / 32 blocks), bias (N) or null.
void quant_matmul(float* y, const float* x, const QuantWeight* weights, int count, const float* bias,
                  const QuantMatmulSizes& sizes);

// y (rows, K) = dequantize(W[ids[r]]) (ids null: rows 0..rows-1). An embedding lookup, or a float copy.
void quant_dequantize_rows(float* y, const void* w, const int64_t* ids, QuantType type, int64_t rows, int64_t K);

// Q8_0 blocks of x (rows, K), as ggml quantizes: d = max|x_i| / 127, q_i = round(x_i / d) half away from
// zero, d stored as fp16. out holds rows · quant_row_bytes(q8_0, K) bytes.
void quant_quantize_q8_0(void* out, const float* x, int64_t rows, int64_t K);

// The integer path the build compiled: "avx512-vnni", "avx2" or "scalar".
const char* quant_kernel_name();

}  // namespace sk
