// The machine's FP32 FMA peak, measured: each thread runs independent chains of SIMD FMAs
// (acc = acc * m + a, no dependency between chains), so throughput, not latency, is the limit.
// Benchmarks quote GEMM and attention speeds as a fraction of this number.
#pragma once
#include <cstdint>

namespace sk {

// GFLOP/s (2 flops per FMA lane) with `threads` threads, each running for about `seconds`.
double measure_fma_peak_gflops(int threads, double seconds);

// Name of the SIMD path the build compiled, e.g. "avx512", "avx2+fma", "neon", "portable".
const char* simd_isa_name();

}  // namespace sk
