// FP32 FMA peak: per thread, kChains independent vector chains acc_c = acc_c * m + a.
// With m slightly below 1 the chains converge instead of overflowing, and the final sum keeps the
// compiler from deleting the loop. flops = threads * iterations * kChains * W * 2.
// int8 peak (AVX-512 VNNI): the same with acc_c = dpbusd(acc_c, u, s), 64 u8 x s8 products into 16 int32
// lanes per instruction (what the quantized products run); ops = threads * iterations * kChains * 64 * 2.
#include "seqkernels/peak.h"

#include <algorithm>
#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "simd.h"

namespace sk {
namespace {

using V = simd::Vec;
constexpr int kChains = 16;  // enough to cover FMA latency x issue width on every target we know

float fma_chains(int64_t iterations) {
  V::T acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = V::set1(1.0f + 0.001f * c);
  const V::T m = V::set1(0.9999999f), a = V::set1(1e-7f);
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 16
    for (int c = 0; c < kChains; ++c) acc[c] = V::fmadd(acc[c], m, a);
  }
  V::T sum = acc[0];
  for (int c = 1; c < kChains; ++c) sum = V::add(sum, acc[c]);
  return V::reduce_add(sum);
}

#if defined(__AVX512VNNI__) && defined(__AVX512F__)
constexpr int64_t kInt8OpsPerChainStep = 64 * 2;
float dpbusd_chains(int64_t iterations) {
  __m512i acc[kChains];
  for (int c = 0; c < kChains; ++c) acc[c] = _mm512_set1_epi32(c);
  const __m512i u = _mm512_set1_epi8(1), s = _mm512_set1_epi8(-1);  // -4 per lane and step (a sink only)
  for (int64_t it = 0; it < iterations; ++it) {
#pragma GCC unroll 16
    for (int c = 0; c < kChains; ++c) acc[c] = _mm512_dpbusd_epi32(acc[c], u, s);
  }
  __m512i sum = acc[0];
  for (int c = 1; c < kChains; ++c) sum = _mm512_add_epi32(sum, acc[c]);
  alignas(64) int32_t lane[16];  // via memory: GCC 12's AVX-512 lane-extract intrinsics trip -Wuninitialized
  _mm512_store_si512(lane, sum);
  int64_t total = 0;
  for (int i = 0; i < 16; ++i) total += lane[i];
  return static_cast<float>(total);
}
#endif

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Operations per second of `chains` (kChains chains of `ops_per_step` operations each per iteration) run
// on `threads` threads at once for about `seconds`.
double measure_peak(float (*chains)(int64_t), double ops_per_step, int threads, double seconds) {
  threads = std::max(1, threads);
  // Calibrate the iteration count on one thread so each thread runs about `seconds`.
  int64_t iterations = 1 << 16;
  for (;;) {
    auto t0 = std::chrono::steady_clock::now();
    volatile float sink = chains(iterations);
    (void)sink;
    double dt = seconds_since(t0);
    if (dt > 0.02 || iterations > (int64_t(1) << 40)) {
      iterations = std::max<int64_t>(1, static_cast<int64_t>(iterations * seconds / std::max(dt, 1e-9)));
      break;
    }
    iterations *= 4;
  }
  // One std::thread per extra thread, not the pool: every thread must run at once, and they start together
  // so that the slowest thread's time is the wall time of the whole run.
  std::atomic<int> started{0};
  std::vector<double> elapsed(threads, 0.0);
  auto run = [&](int t) {
    started.fetch_add(1);
    while (started.load() < threads) {
    }
    auto t0 = std::chrono::steady_clock::now();
    volatile float sink = chains(iterations);
    (void)sink;
    elapsed[t] = seconds_since(t0);
  };
  std::vector<std::thread> others;
  for (int t = 1; t < threads; ++t) others.emplace_back(run, t);
  run(0);
  for (auto& thread : others) thread.join();
  const double slowest = *std::max_element(elapsed.begin(), elapsed.end());
  return double(threads) * double(iterations) * kChains * ops_per_step / slowest;
}

}  // namespace

double measure_fma_peak_gflops(int threads, double seconds) {
  return measure_peak(&fma_chains, V::W * 2.0, threads, seconds) * 1e-9;
}

double measure_int8_peak_gops(int threads, double seconds) {
#if defined(__AVX512VNNI__) && defined(__AVX512F__)
  return measure_peak(&dpbusd_chains, kInt8OpsPerChainStep, threads, seconds) * 1e-9;
#else
  return 0.0;
#endif
}

const char* simd_isa_name() { return V::name; }

}  // namespace sk
