// Threading for every kernel family: one process-wide thread count and a parallel-for over a range.
//
// The thread count is global (not OpenMP's per-thread ICV), so a kernel called from any Python thread
// uses what sk::set_num_threads() set. Kernels that are called inside an already-parallel region run
// serially instead of nesting.
//
// parallel_for and parallel_region run on a pool of our own (run_chunks), not on an OpenMP team: chunks are
// claimed one at a time by whichever thread comes first, the caller included, and the caller waits only for
// chunks that another thread has claimed. An OpenMP region ends at a barrier that waits for every thread of
// the team, so on a machine whose cores are shared, one worker not scheduled in time stalls every region for
// a scheduler slice (a batch-1 LLM decode step runs ~120 such regions of ~20 µs: seen 30x slower). Here the
// caller then runs that chunk itself. A second team (OpenMP's, spinning or sleeping between regions) beside
// the pool would also take the cores the pool's workers need, so no kernel opens an OpenMP region; OpenMP is
// used only for `omp simd` and to read OMP_NUM_THREADS.
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

// Inside a run_chunks chunk, or inside an OpenMP region of the caller's (another library's team calling a
// kernel): a kernel called there runs serially.
bool in_parallel_region();

// Runs chunk(context, c) once for every c in [0, chunks) on the calling thread and at most threads - 1
// workers of the pool, and returns when all have run. Each chunk runs on one thread, which one depends on
// timing (write results that do not). An exception thrown by a chunk is rethrown here (the first one); the
// other chunks still run. Called while another call is running (from another thread), it runs the chunks
// on the calling thread.
void run_chunks(int64_t chunks, int threads, void (*chunk)(void* context, int64_t c), void* context);

// The first exception thrown by any chunk of a pool job (std::bad_alloc from a scratch buffer), kept and
// rethrown on the calling thread once the job ends: an exception must not leave a pool worker.
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

// Runs fn(index, threads) once for every index in [0, threads): a split into `threads` parts (the caller picks
// the count) run on the pool as run_chunks runs its chunks. Parts may run one after another on one thread,
// so a part must never wait for another; per-part scratch indexed by `index` is never shared at one time.
template <class Fn>
void parallel_region(int threads, Fn&& fn) {
  if (threads <= 1 || in_parallel_region()) {
    fn(0, 1);
    return;
  }
  struct Region {
    std::remove_reference_t<Fn>* fn;
    int count;
  } region{&fn, threads};
  run_chunks(threads, threads, [](void* context, int64_t t) {
    const Region& r = *static_cast<const Region*>(context);
    (*r.fn)(static_cast<int>(t), r.count);
  }, &region);
}

}  // namespace sk
