// Threading for every kernel family: one process-wide thread count and a parallel-for over a range.
//
// The thread count is global (not OpenMP's per-thread ICV), so a kernel called from any Python thread
// uses what sk::set_num_threads() set. Kernels that are called inside an already-parallel region run
// serially instead of nesting.
//
// parallel_for runs on a pool of its own (run_chunks), not on an OpenMP team: its chunks are claimed one at
// a time by whichever thread comes first, the caller included, and the caller waits only for chunks that
// another thread has claimed. An OpenMP region ends at a barrier that waits for every thread of the team, so
// on a machine whose cores are shared, one worker not scheduled in time stalls every region for a
// scheduler slice (a batch-1 LLM decode step runs ~120 such regions of ~20 µs: seen 30x slower). Here the
// caller then runs that chunk itself. parallel_region (every thread index present) stays on OpenMP.
#pragma once
#include <algorithm>
#include <cstdint>
#include <exception>
#include <mutex>
#include <type_traits>

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

// Inside an OpenMP region or a run_chunks chunk.
bool in_parallel_region();

// Runs chunk(context, c) once for every c in [0, chunks) on the calling thread and at most threads - 1
// workers of the pool, and returns when all have run. Each chunk runs on one thread, which one depends on
// timing (write results that do not). An exception thrown by a chunk is rethrown here (the first one); the
// other chunks still run. Called while another call is running (from another thread), it runs the chunks
// on the calling thread.
void run_chunks(int64_t chunks, int threads, void (*chunk)(void* context, int64_t c), void* context);

// The first exception thrown on any thread of a parallel region or pool job (std::bad_alloc from a scratch
// buffer), kept and rethrown on the calling thread once the region ends: an exception must not leave an
// OpenMP region or a pool worker.
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
// deterministic partition (chunk t of nt is [n t / nt, n (t + 1) / nt)); which thread runs one is not.
template <class Fn>
void parallel_for(int64_t n, int64_t grain, Fn&& fn) {
  if (n <= 0) return;
  int64_t max_chunks = grain > 0 ? std::max<int64_t>(1, n / grain) : n;
  int nt = static_cast<int>(std::min<int64_t>(num_threads(), max_chunks));
  if (nt <= 1 || in_parallel_region()) {
    fn(int64_t{0}, n);
    return;
  }
  struct Range {
    std::remove_reference_t<Fn>* fn;
    int64_t n, chunks;
  } range{&fn, n, nt};
  run_chunks(nt, nt, [](void* context, int64_t t) {
    const Range& r = *static_cast<const Range*>(context);
    (*r.fn)(r.n * t / r.chunks, r.n * (t + 1) / r.chunks);  // n * t: n is an array extent, t < 4096
  }, &range);
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
