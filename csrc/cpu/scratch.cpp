#include "scratch.h"

#include <array>
#include <cstdint>
#include <cstdlib>
#include <new>

namespace sk {
namespace {

class GrowingBuffer {
 public:
  ~GrowingBuffer() { std::free(data_); }
  float* get(int64_t count) {
    if (count > capacity_) {
      std::free(data_);
      data_ = nullptr;
      capacity_ = 0;
      if (static_cast<uint64_t>(count) > (SIZE_MAX - 63) / sizeof(float)) throw std::bad_alloc();
      const size_t bytes = (static_cast<size_t>(count) * sizeof(float) + 63) / 64 * 64;
      data_ = static_cast<float*>(std::aligned_alloc(64, bytes));
      if (!data_) throw std::bad_alloc();
      capacity_ = count;
    }
    return data_;
  }

 private:
  float* data_ = nullptr;
  int64_t capacity_ = 0;
};

}  // namespace

float* thread_scratch(ScratchPurpose purpose, int64_t floats) {
  thread_local std::array<GrowingBuffer, static_cast<size_t>(ScratchPurpose::count)> buffers;
  return buffers[static_cast<size_t>(purpose)].get(floats < 1 ? 1 : floats);
}

}  // namespace sk
