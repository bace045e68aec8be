#include "seqkernels/parallel.h"

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <thread>
#include <vector>

#if defined(__unix__) || defined(__APPLE__)
#include <pthread.h>
#endif
#if defined(__x86_64__) || defined(_M_X64)
#include <immintrin.h>
#endif

namespace sk {
namespace {
int default_threads() {
#ifdef _OPENMP
  return std::max(1, omp_get_max_threads());  // honours OMP_NUM_THREADS
#else
  return 1;
#endif
}
std::atomic<int> g_threads{default_threads()};
thread_local bool t_in_chunk = false;

void cpu_relax() {
#if defined(__x86_64__) || defined(_M_X64)
  _mm_pause();
#endif
}

// The pool behind run_chunks. One job at a time; its state is one word, generation (32 bits) | chunk count
// (16) | next unclaimed chunk (16), so a claim (compare-exchange of next -> next + 1) succeeds only for a
// chunk of the job that is running: a worker that wakes after its job ended claims nothing. The job's
// function and context are written before its generation is published and stay valid until its last
// claimed chunk is done, which is what the caller waits for.
class Pool {
 public:
  void run(int64_t chunks, int threads, void (*chunk)(void*, int64_t), void* context) {
    std::unique_lock<std::mutex> busy(run_mutex_, std::try_to_lock);
    if (!busy.owns_lock() || chunks > kMaxChunks) {  // another job runs (another caller thread): run here
      RegionExceptions errors;
      for (int64_t c = 0; c < chunks; ++c) run_one(chunk, context, c, errors);
      errors.rethrow();
      return;
    }
    start_workers(threads - 1);
    RegionExceptions errors;
    chunk_ = chunk;
    context_ = context;
    errors_ = &errors;
    done_.store(0, std::memory_order_relaxed);
    generation_ = (generation_ + 1) & 0xFFFFFFFFu;
    state_.store(generation_ << 32 | static_cast<uint64_t>(chunks) << 16, std::memory_order_seq_cst);
    if (sleepers_.load(std::memory_order_seq_cst) > 0) {
      std::lock_guard<std::mutex> lock(wake_mutex_);
      wake_.notify_all();
    }
    work(generation_);
    for (int spins = 0; done_.load(std::memory_order_acquire) < chunks; ++spins) {
      if (spins < 4096) {
        cpu_relax();
      } else {
        std::this_thread::yield();  // a worker holding a claimed chunk was descheduled
      }
    }
    errors.rethrow();
  }

 private:
  static constexpr int64_t kMaxChunks = 0xFFFF;
  static constexpr auto kSpin = std::chrono::microseconds(200);  // a worker's wait before it sleeps

  static uint64_t generation_of(uint64_t state) { return state >> 32; }

  static void run_one(void (*chunk)(void*, int64_t), void* context, int64_t c, RegionExceptions& errors) {
    t_in_chunk = true;
    errors.run([&] { chunk(context, c); });
    t_in_chunk = false;
  }

  // Claims and runs chunks of job `generation` until none is left (or another job has started).
  void work(uint64_t generation) {
    uint64_t s = state_.load(std::memory_order_acquire);
    for (;;) {
      const uint64_t next = s & 0xFFFFu, chunks = (s >> 16) & 0xFFFFu;
      if (generation_of(s) != generation || next >= chunks) return;
      if (!state_.compare_exchange_weak(s, s + 1, std::memory_order_acq_rel, std::memory_order_acquire)) continue;
      run_one(chunk_, context_, static_cast<int64_t>(next), *errors_);
      done_.fetch_add(1, std::memory_order_release);
      s = state_.load(std::memory_order_acquire);
    }
  }

  void start_workers(int wanted) {
    while (static_cast<int>(workers_) < wanted) {
      std::thread([this] { worker(); }).detach();  // the pool lives as long as the process
      ++workers_;
    }
  }

  void worker() {
    uint64_t seen = generation_of(state_.load(std::memory_order_acquire));
    for (;;) {
      auto until = std::chrono::steady_clock::now() + kSpin;
      uint64_t s = state_.load(std::memory_order_acquire);
      for (int i = 0; generation_of(s) == seen; ++i) {
        cpu_relax();
        if ((i & 63) == 63 && std::chrono::steady_clock::now() > until) {
          std::unique_lock<std::mutex> lock(wake_mutex_);
          sleepers_.fetch_add(1, std::memory_order_seq_cst);
          wake_.wait(lock, [&] { return generation_of(state_.load(std::memory_order_seq_cst)) != seen; });
          sleepers_.fetch_sub(1, std::memory_order_relaxed);
          until = std::chrono::steady_clock::now() + kSpin;
        }
        s = state_.load(std::memory_order_acquire);
      }
      seen = generation_of(s);
      work(seen);
    }
  }

  std::mutex run_mutex_;
  std::atomic<uint64_t> state_{0};
  std::atomic<int64_t> done_{0};
  std::atomic<int> sleepers_{0};
  std::mutex wake_mutex_;
  std::condition_variable wake_;
  uint64_t generation_ = 0;  // the caller's copy (under run_mutex_)
  void (*chunk_)(void*, int64_t) = nullptr;
  void* context_ = nullptr;
  RegionExceptions* errors_ = nullptr;
  unsigned workers_ = 0;
};

std::atomic<Pool*> g_pool{nullptr};

Pool& pool() {
  Pool* p = g_pool.load(std::memory_order_acquire);
  if (p) return *p;
  static std::mutex creating;
  std::lock_guard<std::mutex> lock(creating);
  p = g_pool.load(std::memory_order_acquire);
  if (!p) {
    p = new Pool;  // never deleted: its detached workers may outlive static destruction
    g_pool.store(p, std::memory_order_release);
#if defined(__unix__) || defined(__APPLE__)
    // A forked child has none of the workers (and maybe a mutex held by one): it starts a pool of its own.
    static bool registered = false;
    if (!registered) {
      pthread_atfork(nullptr, nullptr, [] { g_pool.store(nullptr, std::memory_order_relaxed); });
      registered = true;
    }
#endif
  }
  return *p;
}
}  // namespace

int num_threads() { return g_threads.load(std::memory_order_relaxed); }
void set_num_threads(int n) { g_threads.store(std::max(1, n), std::memory_order_relaxed); }
bool has_openmp() {
#ifdef _OPENMP
  return true;
#else
  return false;
#endif
}

bool in_parallel_region() {
#ifdef _OPENMP
  if (omp_in_parallel()) return true;
#endif
  return t_in_chunk;
}

void run_chunks(int64_t chunks, int threads, void (*chunk)(void*, int64_t), void* context) {
  if (chunks <= 0) return;
  pool().run(chunks, std::max(1, threads), chunk, context);
}

}  // namespace sk
