// Float transposes in registers (AVX-512: 16 x 16 blocks) for the kernels' packing and layout changes, with a
// scalar fallback of the same contract on every other build.
#pragma once
#include <algorithm>
#include <cstdint>

#include "simd.h"

namespace sk {

#if defined(__AVX512F__)
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic push  // GCC 12 flags the self-initialised _mm512_undefined_ps() inside unpack*_ps,
                             // where the transpose is inlined too
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
// Transposes the 16 x 16 block held in r[0..15] (row i in r[i]) in registers: 64 shuffles.
inline void transpose_16x16(__m512 r[16]) {
  __m512 t[16];
  for (int i = 0; i < 16; i += 2) {  // per 128-bit lane of rows a, b: a0 b0 a1 b1 | a2 b2 a3 b3
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
  auto pd = [](__m512 x) { return _mm512_castps_pd(x); };
  for (int i = 0; i < 16; i += 4) {  // r[i + m]: rows i..i+3 at column 4 * lane + m
    r[i] = _mm512_castpd_ps(_mm512_unpacklo_pd(pd(t[i]), pd(t[i + 2])));
    r[i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(pd(t[i]), pd(t[i + 2])));
    r[i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(pd(t[i + 1]), pd(t[i + 3])));
    r[i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(pd(t[i + 1]), pd(t[i + 3])));
  }
  for (int m = 0; m < 4; ++m) {  // gather lane L of the four row groups: column 4 * L + m
    const __m512 u0 = _mm512_shuffle_f32x4(r[m], r[4 + m], 0x44), u1 = _mm512_shuffle_f32x4(r[m], r[4 + m], 0xEE);
    const __m512 u2 = _mm512_shuffle_f32x4(r[8 + m], r[12 + m], 0x44);
    const __m512 u3 = _mm512_shuffle_f32x4(r[8 + m], r[12 + m], 0xEE);
    t[m] = _mm512_shuffle_f32x4(u0, u2, 0x88);
    t[4 + m] = _mm512_shuffle_f32x4(u0, u2, 0xDD);
    t[8 + m] = _mm512_shuffle_f32x4(u1, u3, 0x88);
    t[12 + m] = _mm512_shuffle_f32x4(u1, u3, 0xDD);
  }
  for (int i = 0; i < 16; ++i) r[i] = t[i];
}
// Transposes `rows` <= 16 rows of a row-major source (k along a row) into columns of dst: dst[k * dst_stride + i] =
// src[i * ld + k] for k < kc, lanes i < 16 of `lanes` written, rows past `rows` read as zeros (a panel's
// padding). 16-column strips are transposed in registers.
inline void transpose_rows_into_columns(const float* src, int64_t ld, int64_t rows, int64_t kc, float* dst,
                                        int64_t dst_stride, __mmask16 lanes) {
  for (int64_t k0 = 0; k0 < kc; k0 += 16) {
    const int64_t kn = std::min<int64_t>(16, kc - k0);
    const __mmask16 columns = static_cast<__mmask16>((1u << kn) - 1);
    __m512 r[16];
    for (int64_t i = 0; i < 16; ++i)
      r[i] = i < rows ? _mm512_maskz_loadu_ps(columns, src + i * ld + k0) : _mm512_setzero_ps();
    transpose_16x16(r);
    for (int64_t k = 0; k < kn; ++k) _mm512_mask_storeu_ps(dst + (k0 + k) * dst_stride, lanes, r[k]);
  }
}

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic pop
#endif

#endif

// dst[j * ld_dst + i] = src[i * ld_src + j] for i < rows, j < cols.
inline void transpose(float* dst, int64_t ld_dst, const float* src, int64_t ld_src, int64_t rows, int64_t cols) {
#if defined(__AVX512F__)
  for (int64_t i0 = 0; i0 < rows; i0 += 16) {
    const int64_t n = std::min<int64_t>(16, rows - i0);
    transpose_rows_into_columns(src + i0 * ld_src, ld_src, n, cols, dst + i0, ld_dst,
                                static_cast<__mmask16>((1u << n) - 1));
  }
#else
  constexpr int64_t kTile = 16;
  for (int64_t i0 = 0; i0 < rows; i0 += kTile)
    for (int64_t j0 = 0; j0 < cols; j0 += kTile)
      for (int64_t j = j0, j1 = std::min(cols, j0 + kTile); j < j1; ++j)
        for (int64_t i = i0, i1 = std::min(rows, i0 + kTile); i < i1; ++i) dst[j * ld_dst + i] = src[i * ld_src + j];
#endif
}

}  // namespace sk
