// Quantized matrix products on GGUF blocks (see seqkernels/quant_matmul.h for formats and math).
//
// 1. Each row of x is quantized to 8 bits per block of 32: a (int8, M x K), d_a and s_a = d_a sum_i a_i
//    (floats, M x K/32), in the calling thread's scratch, shared read-only with the worker threads.
// 2. Threads split the weight rows into tiles of R rows (tiles never straddle two stacked matrices). For a
//    tile, the fp16 scales are converted once (d_w and the correction coefficient c_w per block), then for
//    each group of T rows of x every weight block is unpacked once into 32 bytes and multiplied with the T
//    activation blocks:
//        acc[r][t] += (d_w d_a) · idot(w_r, a_t)          (8 float lanes per accumulator)
//        y[t][r]    = sum(acc[r][t]) + sum_b c_w s_a (+ bias)
// The integer dot of one block: AVX-512 VNNI  dpbusd(u8 w, s8 a) -> 8 x int32;  AVX2  maddubs(u8 w, s8 a)
// -> 16 x int16 (no overflow: 15 · 127 · 2 < 2^15; Q8_0 reads |w| and sign(a, w)), then madd with ones;
// scalar  a plain int32 loop.
// 3. AVX-512 VNNI replaces 2: with M < kPanelMinRows (the decode) groups of 4 blocks per zmm (the
//    activations regrouped to match, the weights permuted in registers, each row's stream prefetched); with
//    M >= kPanelMinRows (the prefill) weight panels in VNNI's layout. See below.
#include "seqkernels/quant_matmul.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <vector>

#include "scratch.h"
#include "seqkernels/parallel.h"

#if defined(__AVX2__) || defined(__F16C__)
#include <immintrin.h>
#endif
#if defined(__AVX512VNNI__) && defined(__AVX512BW__) && defined(__AVX512VL__)
#define SK_QUANT_AVX512 1  // the group kernel (M < kPanelMinRows) and the panel kernel below; no block tiles
#endif

namespace sk {
namespace {

float half_to_float(uint16_t h) {
#if defined(__F16C__)
  return _cvtsh_ss(h);
#else
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  uint32_t exponent = (h >> 10) & 0x1Fu, mantissa = h & 0x3FFu, bits;
  if (exponent == 31) {
    bits = sign | 0x7F800000u | (mantissa << 13);
  } else if (exponent != 0) {
    bits = sign | ((exponent + 112) << 23) | (mantissa << 13);
  } else if (mantissa == 0) {
    bits = sign;
  } else {  // subnormal half: mantissa · 2^-24, exact in float
    const float v = static_cast<float>(mantissa) * (1.0f / 16777216.0f);
    std::memcpy(&bits, &v, 4);
    bits |= sign;
  }
  float f;
  std::memcpy(&f, &bits, 4);
  return f;
#endif
}

// Round to nearest even, as F16C's conversion does.
uint16_t float_to_half(float f) {
#if defined(__F16C__)
  return _cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
#else
  uint32_t x;
  std::memcpy(&x, &f, 4);
  const uint16_t sign = static_cast<uint16_t>((x >> 16) & 0x8000u);
  const uint32_t a = x & 0x7FFFFFFFu;
  if (a > 0x7F800000u) return sign | 0x7E00u;   // NaN
  if (a >= 0x477FF000u) return sign | 0x7C00u;  // rounds to 65520 or more, or inf: inf
  if (a >= 0x38800000u) {                       // a normal half (>= 2^-14): rebias 127 -> 15, round at bit 13
    uint32_t r = a - (112u << 23);
    r += 0xFFFu + ((r >> 13) & 1u);
    return static_cast<uint16_t>(sign | (r >> 13));
  }
  // A subnormal half: units of 2^-24 (1024 units carry into the smallest normal, which encodes the same).
  return static_cast<uint16_t>(sign | static_cast<uint32_t>(std::nearbyint(std::fabs(f) * 16777216.0f)));
#endif
}

uint16_t load_u16(const uint8_t* p) {
  uint16_t v;
  std::memcpy(&v, p, 2);
  return v;
}

#if !defined(SK_QUANT_AVX512)
// out[b] = the fp16 number at p + b · stride, as float, for b < n.
void halves_scalar(float* out, const uint8_t* p, int64_t stride, int64_t n) {
  for (int64_t b = 0; b < n; ++b) out[b] = half_to_float(load_u16(p + b * stride));
}
#endif

// The activations of one product, quantized to 8 bits per block.
constexpr int64_t kGroupBytes = 128, kGroupFloats = 32;  // per group of 4 blocks: lo, hi bytes; da, sa floats
struct Activations {
  const int8_t* q;   // (M, K)
  const float* d;    // (M, nb) scales
  const float* s;    // (M, nb) d · sum of the block's q
  int64_t K, nb;
  const uint8_t* gq = nullptr;  // regrouped for the AVX-512 decode product (group_row): (M, ng, 128) bytes
  const float* gf = nullptr;    // and (M, ng, 32) floats
  int64_t ng = 0;
};

void quantize_row8(const float* x, int8_t* q, float* d, float* s, int64_t K) {
  for (int64_t b = 0; b < K / kQuantBlock; ++b) {
    const float* xb = x + b * kQuantBlock;
    int8_t* qb = q + b * kQuantBlock;
#if defined(__AVX2__)
    // 4 x 8 floats; packs interleave 128-bit lanes, the final permute restores element order.
    const __m256 sign = _mm256_set1_ps(-0.0f);
    __m256 xv[4], m = _mm256_setzero_ps();
    for (int i = 0; i < 4; ++i) {
      xv[i] = _mm256_loadu_ps(xb + 8 * i);
      m = _mm256_max_ps(m, _mm256_andnot_ps(sign, xv[i]));
    }
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    const float amax = _mm_cvtss_f32(_mm_max_ss(m4, _mm_movehdup_ps(m4)));
    const float scale = amax / 127.0f, inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    __m256i qi[4];
    for (int i = 0; i < 4; ++i) qi[i] = _mm256_cvtps_epi32(_mm256_mul_ps(xv[i], _mm256_set1_ps(inv)));  // nearest even
    const __m256i total = _mm256_add_epi32(_mm256_add_epi32(qi[0], qi[1]), _mm256_add_epi32(qi[2], qi[3]));
    __m128i t4 = _mm_add_epi32(_mm256_castsi256_si128(total), _mm256_extracti128_si256(total, 1));
    t4 = _mm_add_epi32(t4, _mm_shuffle_epi32(t4, 0x4E));
    const int sum = _mm_cvtsi128_si32(_mm_add_epi32(t4, _mm_shuffle_epi32(t4, 0xB1)));
    const __m256i packed = _mm256_packs_epi16(_mm256_packs_epi32(qi[0], qi[1]), _mm256_packs_epi32(qi[2], qi[3]));
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(qb),
                        _mm256_permutevar8x32_epi32(packed, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7)));
#else
    float amax = 0.0f;
    for (int i = 0; i < kQuantBlock; ++i) amax = std::max(amax, std::fabs(xb[i]));
    const float scale = amax / 127.0f, inv = amax > 0.0f ? 127.0f / amax : 0.0f;
    int sum = 0;
    for (int i = 0; i < kQuantBlock; ++i) {
      const int v = static_cast<int>(std::nearbyint(xb[i] * inv));
      qb[i] = static_cast<int8_t>(v);
      sum += v;
    }
#endif
    d[b] = scale;
    s[b] = scale * static_cast<float>(sum);
  }
}

// ---- one block's integer dot product, per ISA ---------------------------------------------------------
// Each ISA gives: Block (32 unpacked weights), Act (32 activation bytes), Acc (float lanes), unpack_q4 /
// load_q8 / load_act, dot<kSigned>(w, a) = the lanes of sum_i w_i a_i as floats (w signed or unsigned
// bytes), set1 / mul / fmadd on Acc, and halves (= halves_scalar: a row's block scales as floats).
// kQ8Offset: what load_q8 adds to Q8_0's signed weights (VNNI multiplies unsigned by signed bytes).

#if defined(SK_QUANT_AVX512)
struct Isa {
  static constexpr const char* name = "avx512-vnni";
  static constexpr int kQ8Offset = 128;  // VNNI multiplies unsigned by signed bytes: Q8_0's weights + 128
};
#elif defined(__AVX2__) && defined(__FMA__)
struct Isa {
  static constexpr const char* name = "avx2";
  static constexpr int kQ8Offset = 0;
  static constexpr int kRows = 2, kCols = 4;  // 8 accumulators of 16 ymm registers
  using Block = __m256i;
  using Acc = __m256;
  static Block unpack_q4(const uint8_t* qs) {
    const __m128i x = _mm_loadu_si128(reinterpret_cast<const __m128i*>(qs));
    return _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(x, 4), x), _mm256_set1_epi8(0x0F));
  }
  static Block load_q8(const uint8_t* qs) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(qs)); }
  using Act = __m256i;
  static Act load_act(const int8_t* a) { return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(a)); }
  template <bool kSigned>
  static Acc dot(Block w, Act a) {
    __m256i wu = w;
    if (kSigned) {  // |w| (unsigned, <= 128) times a with w's sign: |w| · 127 · 2 < 2^15
      a = _mm256_sign_epi8(a, w);
      wu = _mm256_sign_epi8(w, w);
    }
    return _mm256_cvtepi32_ps(_mm256_madd_epi16(_mm256_maddubs_epi16(wu, a), _mm256_set1_epi16(1)));
  }
  static Acc zero() { return _mm256_setzero_ps(); }
  static Acc set1(float x) { return _mm256_set1_ps(x); }
  static Acc mul(Acc a, Acc b) { return _mm256_mul_ps(a, b); }
  static Acc fmadd(Acc a, Acc b, Acc c) { return _mm256_fmadd_ps(a, b, c); }
  static float reduce(Acc v) {
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
  }
  static void halves(float* out, const uint8_t* p, int64_t stride, int64_t n) { halves_scalar(out, p, stride, n); }
};
#else
struct Isa {
  static constexpr const char* name = "scalar";
  static constexpr int kQ8Offset = 0;
  static constexpr int kRows = 2, kCols = 2;
  struct Block {
    int16_t v[kQuantBlock];
  };
  using Acc = float;
  static Block unpack_q4(const uint8_t* qs) {
    Block b;
    for (int i = 0; i < 16; ++i) {
      b.v[i] = static_cast<int16_t>(qs[i] & 0x0F);
      b.v[i + 16] = static_cast<int16_t>(qs[i] >> 4);
    }
    return b;
  }
  static Block load_q8(const uint8_t* qs) {
    Block b;
    for (int i = 0; i < kQuantBlock; ++i) b.v[i] = static_cast<int8_t>(qs[i]);
    return b;
  }
  using Act = const int8_t*;
  static Act load_act(const int8_t* a) { return a; }
  template <bool kSigned>
  static Acc dot(const Block& w, Act a) {
    int32_t d = 0;
    for (int i = 0; i < kQuantBlock; ++i) d += w.v[i] * a[i];
    return static_cast<float>(d);
  }
  static Acc zero() { return 0.0f; }
  static Acc set1(float x) { return x; }
  static Acc mul(Acc a, Acc b) { return a * b; }
  static Acc fmadd(Acc a, Acc b, Acc c) { return a * b + c; }
  static float reduce(Acc v) { return v; }
  static void halves(float* out, const uint8_t* p, int64_t stride, int64_t n) { halves_scalar(out, p, stride, n); }
};
#endif

// ---- formats -------------------------------------------------------------------------------------------
// A block: its scale d (fp16) at byte 0, then Q4_1's min m (fp16); the correction coefficient c_w is m
// (kMinAt: its byte) or kZeroPoint · d (Q4_0's nibbles are offset by 8, VNNI's Q8_0 bytes by kQ8Offset).
template <QuantType T>
struct Format;

// groups(g, blk): the block's 32 weights as VNNI's unsigned operand, 8 dwords of 4 bytes (g[j] = weights
// 4j..4j+3): the nibbles as they are, Q8_0's bytes + kQ8Offset (the panel path, AVX-512 only).
uint32_t load_u32(const uint8_t* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

void nibble_groups(uint32_t* g, const uint8_t* qs) {
  for (int j = 0; j < 4; ++j) {
    const uint32_t v = load_u32(qs + 4 * j);
    g[j] = v & 0x0F0F0F0Fu;             // weights 4j..4j+3: low nibbles of qs[4j..4j+3]
    g[j + 4] = (v >> 4) & 0x0F0F0F0Fu;  // weights 16+4j..: their high nibbles
  }
}

template <>
struct Format<QuantType::q4_0> {
  static constexpr int64_t kBytes = 18, kMinAt = -1, kQsAt = 2;
  static constexpr float kZeroPoint = -8.0f;
  static constexpr bool kSigned = false;
  static void groups(uint32_t* g, const uint8_t* blk) { nibble_groups(g, blk + 2); }
};

template <>
struct Format<QuantType::q4_1> {
  static constexpr int64_t kBytes = 20, kMinAt = 2, kQsAt = 4;
  static constexpr float kZeroPoint = 0.0f;
  static constexpr bool kSigned = false;
  static void groups(uint32_t* g, const uint8_t* blk) { nibble_groups(g, blk + 4); }
};

template <>
struct Format<QuantType::q8_0> {
  static constexpr int64_t kBytes = 34, kMinAt = -1, kQsAt = 2;
  static constexpr float kZeroPoint = -static_cast<float>(Isa::kQ8Offset);
  static constexpr bool kSigned = Isa::kQ8Offset == 0;
  static void groups(uint32_t* g, const uint8_t* blk) {
    for (int j = 0; j < 8; ++j) g[j] = load_u32(blk + 2 + 4 * j) ^ 0x80808080u;  // + 128 (kQ8Offset)
  }
};

// A block's scale d_w and correction coefficient c_w (see Format).
template <QuantType T>
void block_scales(float* d, float* c, const uint8_t* blk) {
  using F = Format<T>;
  *d = half_to_float(load_u16(blk));
  if constexpr (F::kMinAt >= 0) {
    *c = half_to_float(load_u16(blk + F::kMinAt));
  } else {
    *c = F::kZeroPoint * *d;
  }
}

#if !defined(SK_QUANT_AVX512)
// ---- the block tiles (AVX2, scalar) ----------------------------------------------------------------------
template <QuantType T>
typename Isa::Block unpack(const uint8_t* blk) {
  if constexpr (T == QuantType::q8_0) {
    return Isa::load_q8(blk + Format<T>::kQsAt);
  } else {
    return Isa::unpack_q4(blk + Format<T>::kQsAt);
  }
}

// y[t][r] for weight rows w[0..R) (row pointers) and activation rows [m0, m0 + C): the register tile.
// dw, cw: (R, nb) scales and correction coefficients of the rows.
template <QuantType T, int R, int C>
void tile(float* y, int64_t ldy, const uint8_t* const* w, const float* dw, const Activations& a, int64_t m0) {
  using F = Format<T>;
  typename Isa::Acc acc[R][C];
  for (int r = 0; r < R; ++r)
    for (int c = 0; c < C; ++c) acc[r][c] = Isa::zero();
  for (int64_t b = 0; b < a.nb; ++b) {
    typename Isa::Block wb[R];
    typename Isa::Acc dwv[R];
    for (int r = 0; r < R; ++r) {
      wb[r] = unpack<T>(w[r] + b * F::kBytes);
      dwv[r] = Isa::set1(dw[r * a.nb + b]);
    }
    for (int c = 0; c < C; ++c) {
      const typename Isa::Act av = Isa::load_act(a.q + (m0 + c) * a.K + b * kQuantBlock);
      const typename Isa::Acc dav = Isa::set1(a.d[(m0 + c) * a.nb + b]);
      for (int r = 0; r < R; ++r)
        acc[r][c] = Isa::fmadd(Isa::mul(Isa::template dot<F::kSigned>(wb[r], av), dav), dwv[r], acc[r][c]);
    }
  }
  for (int c = 0; c < C; ++c)
    for (int r = 0; r < R; ++r) y[(m0 + c) * ldy + r] += Isa::reduce(acc[r][c]);
}

// Weight rows [n0, n0 + R) of one matrix (row pointers w) against all M activation rows, into y[:, n0...].
template <QuantType T, int R>
void row_tile(float* y, int64_t ldy, const uint8_t* const* w, const float* bias, const Activations& a, int64_t M) {
  using F = Format<T>;
  const int64_t nb = a.nb;
  float* scales = thread_scratch(ScratchPurpose::quant_weight_scales, 2 * R * nb);
  float *dw = scales, *cw = scales + R * nb;
  for (int r = 0; r < R; ++r) {
    Isa::halves(dw + r * nb, w[r], F::kBytes, nb);
    if constexpr (F::kMinAt >= 0) {
      Isa::halves(cw + r * nb, w[r] + F::kMinAt, F::kBytes, nb);
    } else {
      for (int64_t b = 0; b < nb; ++b) cw[r * nb + b] = F::kZeroPoint * dw[r * nb + b];
    }
  }
  // The correction terms sum_b c_w s_a (and the bias) first: the tiles add their dot products to them.
  for (int64_t m = 0; m < M; ++m) {
    const float* sa = a.s + m * nb;
    for (int r = 0; r < R; ++r) {
      const float* c = cw + r * nb;
      float corr = 0.0f;
#pragma omp simd reduction(+ : corr)
      for (int64_t b = 0; b < nb; ++b) corr += c[b] * sa[b];
      y[m * ldy + r] = corr + (bias ? bias[r] : 0.0f);
    }
  }
  constexpr int C = Isa::kCols;
  int64_t m = 0;
  for (; m + C <= M; m += C) tile<T, R, C>(y, ldy, w, dw, a, m);
  for (; m < M; ++m) tile<T, R, 1>(y, ldy, w, dw, a, m);
}

#endif  // !SK_QUANT_AVX512

// The weight rows of the stacked matrices in tiles of up to R rows (a matrix's last tile may be short, none
// spans two matrices).
template <int R>
struct RowTiles {
  const QuantWeight* weights;
  int count;
  int64_t row_bytes;

  int64_t size() const {
    int64_t n = 0;
    for (int i = 0; i < count; ++i) n += (weights[i].rows + R - 1) / R;
    return n;
  }
  // Tile t: its row pointers in rows[0..k) (returns k) and its first column of y.
  int get(int64_t t, const uint8_t** rows, int64_t* column) const {
    int64_t first = 0;
    for (int i = 0; i < count; ++i) {
      const int64_t tiles = (weights[i].rows + R - 1) / R;
      if (t < tiles) {
        const int64_t r0 = t * R;
        const int k = static_cast<int>(std::min<int64_t>(R, weights[i].rows - r0));
        for (int r = 0; r < k; ++r) rows[r] = static_cast<const uint8_t*>(weights[i].data) + (r0 + r) * row_bytes;
        *column = first + r0;
        return k;
      }
      t -= tiles;
      first += weights[i].rows;
    }
    return 0;
  }
};

// Threads split the tiles so that each gets at least 32 KiB of weights (per activation row).
template <int R>
int64_t tile_grain(int64_t row_bytes, int64_t M) {
  return std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(1, R * row_bytes * M));
}

#if defined(SK_QUANT_AVX512)
// ---- the decode product on AVX-512 VNNI (M < kPanelMinRows): four blocks per zmm ---------------------------
// The activations are regrouped once per call (group_row): for group g of a row (blocks 4g..4g+3, zero past
// the row's end), j < 4, i < 16, k < 4:
//   lo[16j + i] = a[4g + j][i],  hi[16j + i] = a[4g + j][16 + i]          (64 bytes each)
//   da[4j + k]  = d_a[4g + j],   sa[4j + k] = s_a[4g + j] / 4              (16 floats each)
// A group of weights is read with two masked loads of 32 16-bit words (Q8_0: four; masked, so never past
// the row: every block offset is even) and permuted in registers (vpermt2w, GroupLayout) into the same
// layout: the blocks' 16 bytes of nibbles (lo = low nibbles = weights 0..15, hi = high nibbles = 16..31) or
// the two halves of Q8_0's bytes + 128, and the blocks' fp16 scales d_w (and Q4_1's m) over their 4 lanes.
// Per group and weight row, with c_w as in the block tiles (m, -8 d_w, -128 d_w):
//   isum = dpbusd(dpbusd(0, w_lo, a_lo), w_hi, a_hi)      int32 lanes 4j..4j+3: partial dots of block j
//   acc += float(isum) · (d_w · d_a)  +  c_w · sa
// y = the sum of acc's 16 lanes (+ bias). kGroupRows weight rows share every activation load.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push  // GCC 12 flags the self-initialised "undefined" register inside its casts and
                             // conversions (_mm512_castsi512_si256, _mm512_cvtph_ps, ...)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
constexpr int64_t kPanelMinRows = 8;
// Each row's stream is prefetched this far ahead. The weights are a memory-mapped file in 4 KiB pages,
// where the hardware prefetchers stop at every page boundary (and, in a VM, every page costs a nested
// walk): without it the DRAM-bound products read ~6-8 GB/s, with it ~30-35 GB/s (2 threads, Zen 5, whose
// measured read bandwidth is ~42 GB/s); 256..2048 bytes measured alike, 512 chosen.
constexpr int64_t kPrefetchAhead = 512;
constexpr int kGroupRows = 4;

// One activation row regrouped: gq (ng, 128) bytes and gf (ng, 32) floats from q (nb, 32), d, s (nb).
void group_row(uint8_t* gq, float* gf, const int8_t* q, const float* d, const float* s, int64_t nb) {
  const int64_t ng = (nb + 3) / 4;
  std::memset(gq, 0, ng * kGroupBytes);
  std::fill(gf, gf + ng * kGroupFloats, 0.0f);
  for (int64_t b = 0; b < nb; ++b) {
    uint8_t* g = gq + b / 4 * kGroupBytes + 16 * (b % 4);
    std::memcpy(g, q + b * kQuantBlock, 16);
    std::memcpy(g + 64, q + b * kQuantBlock + 16, 16);
    float* f = gf + b / 4 * kGroupFloats + 4 * (b % 4);
    for (int k = 0; k < 4; ++k) {
      f[k] = d[b];
      f[16 + k] = 0.25f * s[b];
    }
  }
}

__mmask32 first_words(int64_t n) {
  return n <= 0 ? 0 : n >= 32 ? ~__mmask32{0} : static_cast<__mmask32>((1u << n) - 1);
}

// How a group of n <= 4 blocks of format T is gathered: permute indices into the two registers loaded at
// words 0 and 32 of the group (Q8_0's upper halves: the same indices into those loaded at words 8 and 40),
// and the masks of those loads.
template <QuantType T>
struct GroupLayout {
  static constexpr int kWords = static_cast<int>(Format<T>::kBytes / 2);
  __m512i qs, scales;      // word 8j + i: word i of block j's bytes; lane l: d_w of block l / 4 (l >= 16: m)
  __mmask32 low[2], high[2];

  explicit GroupLayout(int64_t n) {
    alignas(64) uint16_t q[32], sc[32];
    for (int l = 0; l < 32; ++l) {
      q[l] = static_cast<uint16_t>(kWords * (l / 8) + Format<T>::kQsAt / 2 + l % 8);
      const bool min = l >= 16 && Format<T>::kMinAt >= 0;
      sc[l] = static_cast<uint16_t>(kWords * (l % 16 / 4) + (min ? Format<T>::kMinAt / 2 : 0));
    }
    qs = _mm512_load_si512(q);
    scales = _mm512_load_si512(sc);
    const int64_t words = n * kWords;
    low[0] = first_words(words);
    low[1] = first_words(words - 32);
    high[0] = first_words(words - 8);
    high[1] = first_words(words - 40);
  }
};

// The weight group at p in the activations' layout: lo, hi bytes and the lanes' d_w, c_w.
template <QuantType T>
inline void load_group(const uint8_t* p, const GroupLayout<T>& g, __m512i& lo, __m512i& hi, __m512& d, __m512& c) {
  const __m512i w0 = _mm512_maskz_loadu_epi16(g.low[0], p), w1 = _mm512_maskz_loadu_epi16(g.low[1], p + 64);
  const __m512i scales = _mm512_permutex2var_epi16(w0, g.scales, w1);
  d = _mm512_cvtph_ps(_mm512_castsi512_si256(scales));
  if constexpr (Format<T>::kMinAt >= 0) {
    c = _mm512_cvtph_ps(_mm512_extracti64x4_epi64(scales, 1));
  } else {
    c = _mm512_mul_ps(d, _mm512_set1_ps(Format<T>::kZeroPoint));
  }
  const __m512i q = _mm512_permutex2var_epi16(w0, g.qs, w1);
  if constexpr (T == QuantType::q8_0) {
    const __m512i offset = _mm512_set1_epi8(-128);  // + kQ8Offset
    const __m512i v0 = _mm512_maskz_loadu_epi16(g.high[0], p + 16), v1 = _mm512_maskz_loadu_epi16(g.high[1], p + 80);
    lo = _mm512_xor_si512(q, offset);
    hi = _mm512_xor_si512(_mm512_permutex2var_epi16(v0, g.qs, v1), offset);
  } else {
    const __m512i nibble = _mm512_set1_epi8(0x0F);
    lo = _mm512_and_si512(q, nibble);
    hi = _mm512_and_si512(_mm512_srli_epi16(q, 4), nibble);
  }
}

float sum16(__m512 v) {
  __m256 h = _mm256_add_ps(_mm512_castps512_ps256(v), _mm512_extractf32x8_ps(v, 1));
  __m128 s = _mm_add_ps(_mm256_castps256_ps128(h), _mm256_extractf128_ps(h, 1));
  s = _mm_add_ps(s, _mm_movehl_ps(s, s));
  return _mm_cvtss_f32(_mm_add_ss(s, _mm_movehdup_ps(s)));
}

// y[r] = w_r · a (+ bias[r]) for weight rows w[0..R) and one regrouped activation row (gq, gf, ng groups;
// the last holds `tail` blocks' layout).
template <QuantType T, int R>
void group_rows(float* y, const uint8_t* const* w, const float* bias, const uint8_t* gq, const float* gf, int64_t ng,
                const GroupLayout<T>& full, const GroupLayout<T>& tail) {
  constexpr int64_t kWeightBytes = 4 * Format<T>::kBytes;
  __m512 acc[R];
  for (int r = 0; r < R; ++r) acc[r] = _mm512_setzero_ps();
  auto step = [&](int64_t g, const GroupLayout<T>& layout) {
    const __m512i alo = _mm512_loadu_si512(gq + g * kGroupBytes), ahi = _mm512_loadu_si512(gq + g * kGroupBytes + 64);
    const __m512 da = _mm512_loadu_ps(gf + g * kGroupFloats), sa = _mm512_loadu_ps(gf + g * kGroupFloats + 16);
    for (int r = 0; r < R; ++r) {
      const uint8_t* p = w[r] + g * kWeightBytes;
      for (int64_t o = 0; o < kWeightBytes; o += 64) _mm_prefetch(reinterpret_cast<const char*>(p + kPrefetchAhead + o), _MM_HINT_T0);
      __m512i lo, hi;
      __m512 d, c;
      load_group<T>(p, layout, lo, hi, d, c);
      const __m512i isum = _mm512_dpbusd_epi32(_mm512_dpbusd_epi32(_mm512_setzero_si512(), lo, alo), hi, ahi);
      acc[r] = _mm512_fmadd_ps(_mm512_cvtepi32_ps(isum), _mm512_mul_ps(d, da), acc[r]);
      acc[r] = _mm512_fmadd_ps(c, sa, acc[r]);
    }
  };
  for (int64_t g = 0; g + 1 < ng; ++g) step(g, full);
  step(ng - 1, tail);
  for (int r = 0; r < R; ++r) y[r] = sum16(acc[r]) + (bias ? bias[r] : 0.0f);
}

template <QuantType T>
void group_matmul(float* y, const Activations& a, const RowTiles<kGroupRows>& tiles, const float* bias, int64_t M,
                  int64_t ldy) {
  const GroupLayout<T> full(4), tail(a.nb - 4 * (a.ng - 1));
  parallel_for(tiles.size(), tile_grain<kGroupRows>(tiles.row_bytes, M), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const uint8_t* rows[kGroupRows];
      int64_t column = 0;
      const int k = tiles.get(t, rows, &column);
      const float* bt = bias ? bias + column : nullptr;
      for (int64_t m = 0; m < M; ++m) {
        const uint8_t* gq = a.gq + m * a.ng * kGroupBytes;
        const float* gf = a.gf + m * a.ng * kGroupFloats;
        float* yt = y + m * ldy + column;
        if (k == kGroupRows) {
          group_rows<T, kGroupRows>(yt, rows, bt, gq, gf, a.ng, full, tail);
        } else {
          for (int r = 0; r < k; ++r) group_rows<T, 1>(yt + r, rows + r, bt ? bt + r : nullptr, gq, gf, a.ng, full, tail);
        }
      }
    }
  });
}
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

// ---- the prefill product on AVX-512 VNNI: weight panels, rows in lanes -----------------------------------
// For M >= kPanelMinRows the weights are unpacked once per panel of kPanel = 32 rows (thread scratch, not the
// model) into VNNI's layout: for block b and group j (weights 4j..4j+3 of the block), the 4 bytes of each of
// the 32 rows side by side, so one zmm holds 16 rows and dpbusd(acc, w, broadcast 4 activation bytes) adds a
// group of 4 products to each of 16 rows. A register tile of 32 rows x kPanelCols tokens keeps its int32
// sums over one block (8 groups), then scales them into float accumulators:
//     f[r][t] += (d_a[t,b] · float(sum_i q_i a_i)) · d_w[r,b]  +  c_w[r,b] · s_a[t,b]
// (the correction term is the same as in the tiles above). Each panel load is reused for kPanelCols tokens,
// each activation broadcast for 32 rows; per block and token: 16 dpbusd, 2 x (convert, mul, 2 fma).
constexpr int kPanel = 32, kPanelCols = 6;  // 12 int32 + 12 float accumulators + 2 weight registers of 32 zmm
static_assert(Isa::kQ8Offset == 128, "Format<q8_0>::groups adds 128");

// wq (nb, 8, kPanel, 4) bytes, dw and cw (nb, kPanel) of weight rows rows[0..n); rows n..kPanel are zero.
template <QuantType T>
void pack_panel(uint8_t* wq, float* dw, float* cw, const uint8_t* const* rows, int n, int64_t nb) {
  using F = Format<T>;
  for (int r = 0; r < kPanel; ++r)
    for (int64_t b = 0; b < nb; ++b) {
      uint32_t g[8] = {0, 0, 0, 0, 0, 0, 0, 0};
      float d = 0.0f, c = 0.0f;
      if (r < n) {
        const uint8_t* blk = rows[r] + b * F::kBytes;
        F::groups(g, blk);
        block_scales<T>(&d, &c, blk);
      }
      for (int j = 0; j < 8; ++j) std::memcpy(wq + ((b * 8 + j) * kPanel + r) * 4, &g[j], 4);
      dw[b * kPanel + r] = d;
      cw[b * kPanel + r] = c;
    }
}

// y[m0 + t][0..32) (columns masked by k0, k1) for tokens t < C against one packed panel (+ bias, or null).
template <int C>
void panel_tile(float* y, int64_t ldy, const uint8_t* wq, const float* dw, const float* cw, const float* bias,
                const Activations& a, int64_t m0, __mmask16 k0, __mmask16 k1) {
  __m512 f[2][C];
  for (int t = 0; t < C; ++t) f[0][t] = f[1][t] = _mm512_setzero_ps();
  const int8_t* act = a.q + m0 * a.K;
  for (int64_t b = 0; b < a.nb; ++b) {
    __m512i s[2][C];
    for (int t = 0; t < C; ++t) s[0][t] = s[1][t] = _mm512_setzero_si512();
    const uint8_t* wb = wq + b * 8 * kPanel * 4;
    const int8_t* ab = act + b * kQuantBlock;
    for (int j = 0; j < 8; ++j) {
      const __m512i w0 = _mm512_loadu_si512(wb + j * kPanel * 4), w1 = _mm512_loadu_si512(wb + j * kPanel * 4 + 64);
      for (int t = 0; t < C; ++t) {
        int32_t group;
        std::memcpy(&group, ab + t * a.K + 4 * j, 4);
        const __m512i av = _mm512_set1_epi32(group);
        s[0][t] = _mm512_dpbusd_epi32(s[0][t], w0, av);
        s[1][t] = _mm512_dpbusd_epi32(s[1][t], w1, av);
      }
    }
    const __m512 d0 = _mm512_loadu_ps(dw + b * kPanel), d1 = _mm512_loadu_ps(dw + b * kPanel + 16);
    const __m512 c0 = _mm512_loadu_ps(cw + b * kPanel), c1 = _mm512_loadu_ps(cw + b * kPanel + 16);
    for (int t = 0; t < C; ++t) {
      const __m512 da = _mm512_set1_ps(a.d[(m0 + t) * a.nb + b]), sa = _mm512_set1_ps(a.s[(m0 + t) * a.nb + b]);
      f[0][t] = _mm512_fmadd_ps(c0, sa, _mm512_fmadd_ps(_mm512_mul_ps(_mm512_maskz_cvtepi32_ps(0xFFFF, s[0][t]), da), d0, f[0][t]));
      f[1][t] = _mm512_fmadd_ps(c1, sa, _mm512_fmadd_ps(_mm512_mul_ps(_mm512_maskz_cvtepi32_ps(0xFFFF, s[1][t]), da), d1, f[1][t]));
    }
  }
  const __m512 b0 = bias ? _mm512_maskz_loadu_ps(k0, bias) : _mm512_setzero_ps();
  const __m512 b1 = bias ? _mm512_maskz_loadu_ps(k1, bias + 16) : _mm512_setzero_ps();
  for (int t = 0; t < C; ++t) {
    float* yt = y + (m0 + t) * ldy;
    _mm512_mask_storeu_ps(yt, k0, _mm512_add_ps(f[0][t], b0));
    _mm512_mask_storeu_ps(yt + 16, k1, _mm512_add_ps(f[1][t], b1));
  }
}

// The whole product by panels: rows[i] points at weight row i of the stacked matrices (N rows).
template <QuantType T>
void panel_matmul(float* y, const Activations& a, const std::vector<const uint8_t*>& rows, const float* bias,
                  int64_t M, int64_t ldy) {
  const int64_t N = static_cast<int64_t>(rows.size()), nb = a.nb, panels = (N + kPanel - 1) / kPanel;
  parallel_for(panels, 1, [&](int64_t p0, int64_t p1) {
    const int64_t wq_floats = nb * 8 * kPanel;  // nb · 8 · kPanel · 4 bytes
    float* buffer = thread_scratch(ScratchPurpose::quant_weight_scales, wq_floats + 2 * nb * kPanel);
    uint8_t* wq = reinterpret_cast<uint8_t*>(buffer);
    float *dw = buffer + wq_floats, *cw = dw + nb * kPanel;
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t n0 = p * kPanel;
      const int n = static_cast<int>(std::min<int64_t>(kPanel, N - n0));
      pack_panel<T>(wq, dw, cw, rows.data() + n0, n, nb);
      const __mmask16 k0 = static_cast<__mmask16>(n >= 16 ? 0xFFFF : (1u << n) - 1);
      const __mmask16 k1 = static_cast<__mmask16>(n >= 32 ? 0xFFFF : n <= 16 ? 0 : (1u << (n - 16)) - 1);
      float* yp = y + n0;
      const float* bp = bias ? bias + n0 : nullptr;
      int64_t m = 0;
      for (; m + kPanelCols <= M; m += kPanelCols) panel_tile<kPanelCols>(yp, ldy, wq, dw, cw, bp, a, m, k0, k1);
      switch (M - m) {
        case 5: panel_tile<5>(yp, ldy, wq, dw, cw, bp, a, m, k0, k1); break;
        case 4: panel_tile<4>(yp, ldy, wq, dw, cw, bp, a, m, k0, k1); break;
        case 3: panel_tile<3>(yp, ldy, wq, dw, cw, bp, a, m, k0, k1); break;
        case 2: panel_tile<2>(yp, ldy, wq, dw, cw, bp, a, m, k0, k1); break;
        case 1: panel_tile<1>(yp, ldy, wq, dw, cw, bp, a, m, k0, k1); break;
        default: break;
      }
    }
  });
}
#endif  // SK_QUANT_AVX512

template <QuantType T>
void matmul_typed(float* y, const Activations& a, const QuantWeight* weights, int count, const float* bias,
                  int64_t M, int64_t ldy) {
  const int64_t row_bytes = a.nb * Format<T>::kBytes;
#if defined(SK_QUANT_AVX512)
  if (M >= kPanelMinRows) {
    std::vector<const uint8_t*> rows;
    for (int i = 0; i < count; ++i)
      for (int64_t r = 0; r < weights[i].rows; ++r) rows.push_back(static_cast<const uint8_t*>(weights[i].data) + r * row_bytes);
    panel_matmul<T>(y, a, rows, bias, M, ldy);
  } else {
    group_matmul<T>(y, a, RowTiles<kGroupRows>{weights, count, row_bytes}, bias, M, ldy);
  }
#else
  constexpr int R = Isa::kRows;
  const RowTiles<R> tiles{weights, count, row_bytes};
  parallel_for(tiles.size(), tile_grain<R>(row_bytes, M), [&](int64_t t0, int64_t t1) {
    for (int64_t t = t0; t < t1; ++t) {
      const uint8_t* rp[R];
      int64_t column = 0;
      const int rows = tiles.get(t, rp, &column);
      float* yt = y + column;
      const float* bt = bias ? bias + column : nullptr;
      if (rows == R) {
        row_tile<T, R>(yt, ldy, rp, bt, a, M);
      } else {
        for (int r = 0; r < rows; ++r) row_tile<T, 1>(yt + r, ldy, rp + r, bt ? bt + r : nullptr, a, M);
      }
    }
  });
#endif
}

}  // namespace

int64_t quant_block_bytes(QuantType type) {
  switch (type) {
    case QuantType::q4_0: return 18;
    case QuantType::q4_1: return 20;
    case QuantType::q8_0: return 34;
  }
  return 0;
}

const char* quant_kernel_name() { return Isa::name; }

void quant_matmul(float* y, const float* x, const QuantWeight* weights, int count, const float* bias,
                  const QuantMatmulSizes& sizes) {
  const int64_t M = sizes.M, K = sizes.K, nb = K / kQuantBlock;
  if (M <= 0 || count <= 0) return;
  // The activations: q (M K bytes), then d and s (M nb floats each), in this thread's scratch; for the
  // AVX-512 decode product also regrouped: (M, ng) groups of 128 bytes, then of 32 floats.
#if defined(SK_QUANT_AVX512)
  const int64_t ng = M < kPanelMinRows ? (nb + 3) / 4 : 0;
#else
  const int64_t ng = 0;
#endif
  const int64_t q_floats = (M * K + 3) / 4, group_floats = M * ng * (kGroupBytes / 4 + kGroupFloats);
  float* buffer = thread_scratch(ScratchPurpose::quant_activations, q_floats + 2 * M * nb + group_floats);
  int8_t* q = reinterpret_cast<int8_t*>(buffer);
  float *d = buffer + q_floats, *s = d + M * nb;
  uint8_t* gq = reinterpret_cast<uint8_t*>(s + M * nb);
  float* gf = s + M * nb + M * ng * kGroupBytes / 4;
  parallel_for(M, row_grain(K), [&](int64_t m0, int64_t m1) {
    for (int64_t m = m0; m < m1; ++m) {
      quantize_row8(x + m * K, q + m * K, d + m * nb, s + m * nb, K);
#if defined(SK_QUANT_AVX512)
      if (ng) group_row(gq + m * ng * kGroupBytes, gf + m * ng * kGroupFloats, q + m * K, d + m * nb, s + m * nb, nb);
#endif
    }
  });
  const Activations a{q, d, s, K, nb, gq, gf, ng};
  switch (sizes.type) {
    case QuantType::q4_0: matmul_typed<QuantType::q4_0>(y, a, weights, count, bias, M, sizes.ldy); break;
    case QuantType::q4_1: matmul_typed<QuantType::q4_1>(y, a, weights, count, bias, M, sizes.ldy); break;
    case QuantType::q8_0: matmul_typed<QuantType::q8_0>(y, a, weights, count, bias, M, sizes.ldy); break;
  }
}

void quant_dequantize_rows(float* y, const void* w, const int64_t* ids, QuantType type, int64_t rows, int64_t K) {
  const int64_t nb = K / kQuantBlock, bytes = quant_block_bytes(type), row_bytes = nb * bytes;
  parallel_for(rows, row_grain(K), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r) {
      const uint8_t* row = static_cast<const uint8_t*>(w) + (ids ? ids[r] : r) * row_bytes;
      float* out = y + r * K;
      for (int64_t b = 0; b < nb; ++b) {
        const uint8_t* blk = row + b * bytes;
        float* o = out + b * kQuantBlock;
        const float dd = half_to_float(load_u16(blk));
        if (type == QuantType::q8_0) {
          for (int i = 0; i < kQuantBlock; ++i) o[i] = dd * static_cast<float>(static_cast<int8_t>(blk[2 + i]));
          continue;
        }
        const bool q41 = type == QuantType::q4_1;
        const float mm = q41 ? half_to_float(load_u16(blk + 2)) : -8.0f * dd;
        const uint8_t* qs = blk + (q41 ? 4 : 2);
        for (int i = 0; i < 16; ++i) {
          o[i] = dd * static_cast<float>(qs[i] & 0x0F) + mm;
          o[i + 16] = dd * static_cast<float>(qs[i] >> 4) + mm;
        }
      }
    }
  });
}

void quant_quantize_q8_0(void* out, const float* x, int64_t rows, int64_t K) {
  const int64_t nb = K / kQuantBlock;
  parallel_for(rows, row_grain(K), [&](int64_t r0, int64_t r1) {
    for (int64_t r = r0; r < r1; ++r)
      for (int64_t b = 0; b < nb; ++b) {
        const float* xb = x + r * K + b * kQuantBlock;
        uint8_t* blk = static_cast<uint8_t*>(out) + (r * nb + b) * 34;
        float amax = 0.0f;
        for (int i = 0; i < kQuantBlock; ++i) amax = std::max(amax, std::fabs(xb[i]));
        const float dd = amax / 127.0f, inv = dd != 0.0f ? 1.0f / dd : 0.0f;
        const uint16_t h = float_to_half(dd);
        std::memcpy(blk, &h, 2);
        for (int i = 0; i < kQuantBlock; ++i) blk[2 + i] = static_cast<uint8_t>(static_cast<int8_t>(std::round(xb[i] * inv)));
      }
  });
}

}  // namespace sk
