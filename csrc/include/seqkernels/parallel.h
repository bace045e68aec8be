// Threading for every kernel family: one process-wide thread count and a parallel-for over a range.
//
// The thread count is global (not OpenMP's per-thread ICV), so a kernel called from any Python thread
// uses what sk::set_num_threads() set. Kernels that are called inside an already-parallel region run
// serially instead of nesting.
#pragma once
#include <algorithm>
#include <cstdint>
#include <exception>
#include <mutex>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace sk {

int num_threads();             // threads a kernel may use (>= 1)
void set_num_threads(int n);   // n >= 1
bool has_openmp();

// Elements a thread should get at least before splitting a memory-bound pass over threads pays.
constexpr int64_t kElementGrain = 1 << 14;

// Rows per chunk so that a chunk of rows of `row_length` elements covers at least kElementGrain elements.
inline int64_t row_grain(int64_t row_length) {
  return std::max<int64_t>(1, kElementGrain / std::max<int64_t>(row_length, 1));
}

inline bool in_parallel_region() {
#ifdef _OPENMP
  return omp_in_parallel() != 0;
#else
  return false;
#endif
}

// The first exception thrown on any thread of a parallel region (std::bad_alloc from a scratch buffer), kept
// and rethrown on the calling thread once the region ends: an exception must not leave an OpenMP region.
class RegionExceptions {
 public:
  template <class Fn>
  void run(Fn&& fn) noexcept {
    try {
      fn();
    } catch (...) {
      std::lock_guard<std::mutex> lock(mutex_);
      if (!first_) first_ = std::current_exception();
    }
  }
  void rethrow() {
    if (first_) std::rethrow_exception(first_);
  }

 private:
  std::mutex mutex_;
  std::exception_ptr first_;
};

// Runs fn(begin, end) on contiguous chunks of [0, n) split over at most num_threads() threads, each
// chunk holding at least `grain` items (so tiny ranges stay on one thread). Chunks are a static,
// deterministic partition: thread t always gets the same chunk for the same n.
template <class Fn>
void parallel_for(int64_t n, int64_t grain, Fn&& fn) {
  if (n <= 0) return;
  int64_t max_chunks = grain > 0 ? std::max<int64_t>(1, n / grain) : n;
  int nt = static_cast<int>(std::min<int64_t>(num_threads(), max_chunks));
  if (nt <= 1 || in_parallel_region()) {
    fn(int64_t{0}, n);
    return;
  }
#ifdef _OPENMP
  RegionExceptions errors;
#pragma omp parallel num_threads(nt)
  {
    int t = omp_get_thread_num();
    int count = omp_get_num_threads();
    int64_t begin = n * t / count, end = n * (t + 1) / count;  // n * t: n is an array extent, t < 4096
    if (begin < end) errors.run([&] { fn(begin, end); });
  }
  errors.rethrow();
#else
  fn(int64_t{0}, n);
#endif
}

// Runs fn(thread_index, thread_count) once on each of `threads` threads (the caller picks the count).
template <class Fn>
void parallel_region(int threads, Fn&& fn) {
  if (threads <= 1 || in_parallel_region()) {
    fn(0, 1);
    return;
  }
#ifdef _OPENMP
  RegionExceptions errors;
#pragma omp parallel num_threads(threads)
  errors.run([&] { fn(omp_get_thread_num(), omp_get_num_threads()); });
  errors.rethrow();
#else
  fn(0, 1);
#endif
}

}  // namespace sk
