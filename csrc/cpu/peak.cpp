// FP32 FMA peak: per thread, kChains independent vector chains acc_c = acc_c * m + a.
// With m slightly below 1 the chains converge instead of overflowing, and the final sum keeps the
// compiler from deleting the loop. flops = threads * iterations * kChains * W * 2.
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

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

double measure_fma_peak_gflops(int threads, double seconds) {
  threads = std::max(1, threads);
  // Calibrate the iteration count on one thread so each thread runs about `seconds`.
  int64_t iterations = 1 << 16;
  for (;;) {
    auto t0 = std::chrono::steady_clock::now();
    volatile float sink = fma_chains(iterations);
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
    volatile float sink = fma_chains(iterations);
    (void)sink;
    elapsed[t] = seconds_since(t0);
  };
  std::vector<std::thread> others;
  for (int t = 1; t < threads; ++t) others.emplace_back(run, t);
  run(0);
  for (auto& thread : others) thread.join();
  const double slowest = *std::max_element(elapsed.begin(), elapsed.end());
  return double(threads) * double(iterations) * kChains * V::W * 2.0 / slowest * 1e-9;
}

const char* simd_isa_name() { return V::name; }

}  // namespace sk
