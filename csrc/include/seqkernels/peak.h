// The machine's FP32 FMA peak, measured: each thread runs independent chains of SIMD FMAs
// (acc = acc * m + a, no dependency between chains), so throughput, not latency, is the limit.
// Benchmarks quote GEMM and attention speeds as a fraction of this number.
#pragma once
#include <cstdint>

namespace sk {

// GFLOP/s (2 flops per FMA lane) with `threads` threads, each running for about `seconds`.
double measure_fma_peak_gflops(int threads, double seconds);

// int8 GOP/s (2 ops per u8 x s8 multiply-add) of AVX-512 VNNI's dpbusd, measured the same way; 0 when the
// build has no VNNI path.
double measure_int8_peak_gops(int threads, double seconds);

// Name of the SIMD path the build compiled, e.g. "avx512", "avx2+fma", "neon", "portable".
const char* simd_isa_name();

}  // namespace sk
