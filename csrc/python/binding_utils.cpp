#include "binding_utils.h"

#include "seqkernels/checked_math.h"

#include <algorithm>
#include <cstdlib>
#include <deque>
#include <map>
#include <mutex>
#include <sstream>

#if defined(__linux__)
#include <sys/mman.h>
#endif

namespace sk::bind {

namespace {
std::map<std::string, void (*)(py::module_&)>& registry() {
  static std::map<std::string, void (*)(py::module_&)> fns;  // ordered: deterministic module layout
  return fns;
}
}  // namespace

int register_bindings(const char* name, void (*fn)(py::module_&)) {
  registry()[name] = fn;
  return 0;
}

void add_registered_bindings(py::module_& m) {
  for (auto& [name, fn] : registry()) fn(m);
}

}  // namespace sk::bind

#ifdef SEQKERNELS_ISA_VARIANT
// The entry point of an ISA variant's shared library (CMakeLists.txt), opened by module.cpp: registers
// this copy's functions on the module `m`. 0 on success; -1 with the Python error set.
extern "C" __attribute__((visibility("default"))) int seqkernels_add_bindings(PyObject* m) {
  try {
    auto module = pybind11::reinterpret_borrow<pybind11::module_>(m);
    sk::bind::add_registered_bindings(module);
    return 0;
  } catch (pybind11::error_already_set& e) {
    e.restore();
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_ImportError, e.what());
  }
  return -1;
}
#endif

namespace sk::bind {

std::string shape_str(const std::vector<int64_t>& shape) {
  std::ostringstream s;
  s << "(";
  for (size_t i = 0; i < shape.size(); ++i) s << (i ? ", " : "") << shape[i];
  if (shape.size() == 1) s << ",";
  s << ")";
  return s.str();
}

std::string shape_str(const py::array& a) {
  return shape_str(std::vector<int64_t>(a.shape(), a.shape() + a.ndim()));
}

std::string dtype_str(py::handle obj) {
  if (py::isinstance<py::array>(obj))
    return py::str(py::reinterpret_borrow<py::array>(obj).dtype()).cast<std::string>();
  return std::string(py::str(py::type::handle_of(obj).attr("__name__")));
}

int64_t checked_add(int64_t a, int64_t b, const char* op, const char* what) {
  int64_t r;
  if (!sk::checked_add(a, b, &r))
    throw py::value_error(std::string(op) + ": " + what + " overflows int64 (" + std::to_string(a) + " + " +
                          std::to_string(b) + ")");
  return r;
}

int64_t checked_mul(int64_t a, int64_t b, const char* op, const char* what) {
  int64_t r;
  if (!sk::checked_mul(a, b, &r))
    throw py::value_error(std::string(op) + ": " + what + " overflows int64 (" + std::to_string(a) + " * " +
                          std::to_string(b) + ")");
  return r;
}

int64_t checked_product(const std::vector<int64_t>& dims, const char* op, const char* what) {
  int64_t r = 1;
  for (int64_t d : dims) r = checked_mul(r, d, op, what);
  return r;
}

void check_range(int64_t value, int64_t lo, int64_t hi, const char* op, const char* arg) {
  if (value < lo || value > hi)
    throw py::value_error(std::string(op) + ": argument '" + arg + "' must be in [" + std::to_string(lo) + ", " +
                          std::to_string(hi) + "], got " + std::to_string(value));
}

bool has_dtype(const py::array& a, const py::dtype& want) {
  return py::detail::npy_api::get().PyArray_EquivTypes_(a.dtype().ptr(), want.ptr());
}

namespace {
// `obj` (already of dtype T, or castable when `cast`) as a C-contiguous, aligned array of T: the object itself
// when it is one, else numpy's copy. A failed copy raises numpy's exception (MemoryError), never a null array.
template <class T>
py::array_t<T, py::array::c_style> contiguous(py::handle obj, bool cast) {
  using api = py::detail::npy_api;
  const int flags = api::NPY_ARRAY_ENSUREARRAY_ | api::NPY_ARRAY_C_CONTIGUOUS_ | api::NPY_ARRAY_ALIGNED_ |
                    (cast ? api::NPY_ARRAY_FORCECAST_ : 0);
  PyObject* r = api::get().PyArray_FromAny_(obj.ptr(), py::dtype::of<T>().release().ptr(), 0, 0, flags, nullptr);
  if (!r) throw py::error_already_set();
  return py::reinterpret_steal<py::array_t<T, py::array::c_style>>(r);
}
}  // namespace

py::array require_float32(py::handle obj, const char* op, const char* arg) {
  if (!py::isinstance<py::array>(obj) || !has_dtype(py::reinterpret_borrow<py::array>(obj), py::dtype::of<float>()))
    throw py::type_error(std::string(op) + ": argument '" + arg + "' must be a float32 array, got " +
                         dtype_str(obj));
  return py::reinterpret_borrow<py::array>(obj);
}

FloatArray float32_array(py::handle obj, const char* op, const char* arg) {
  require_float32(obj, op, arg);
  return contiguous<float>(obj, false);  // copies only when not C-contiguous or not aligned
}

FloatArray float32_inplace(py::handle obj, const char* op, const char* arg) {
  py::array a = require_float32(obj, op, arg);
  if (!(a.flags() & py::array::c_style))
    throw py::value_error(std::string(op) + ": argument '" + arg +
                          "' is written in place and must be C-contiguous");
  if (!is_aligned(a))
    throw py::value_error(std::string(op) + ": argument '" + arg + "' is written in place and must be aligned");
  if (!a.writeable())
    throw py::value_error(std::string(op) + ": argument '" + arg + "' is written in place but is read-only");
  return py::reinterpret_borrow<FloatArray>(obj);
}

py::array_t<int64_t, py::array::c_style> index_array(py::handle obj, const char* op, const char* arg) {
  if (py::isinstance<py::array>(obj)) {
    auto a = py::reinterpret_borrow<py::array>(obj);
    char kind = a.dtype().kind();
    if ((kind == 'i' || kind == 'u') && a.itemsize() <= 8 && !(kind == 'u' && a.itemsize() == 8))
      return contiguous<int64_t>(obj, true);
  }
  throw py::type_error(std::string(op) + ": argument '" + arg + "' must be an integer array (int32 or int64), got " +
                       dtype_str(obj));
}

void check_ndim(const py::array& a, int ndim, const char* op, const char* arg) {
  if (a.ndim() != ndim)
    throw py::value_error(std::string(op) + ": argument '" + arg + "' must be " + std::to_string(ndim) +
                          "-D, got shape " + shape_str(a));
}

void check_shape(const py::array& a, const std::vector<int64_t>& expected, const char* op, const char* arg) {
  std::vector<int64_t> got(a.shape(), a.shape() + a.ndim());
  if (got != expected)
    throw py::value_error(std::string(op) + ": argument '" + arg + "' must have shape " + shape_str(expected) +
                          ", got " + shape_str(got));
}

namespace {

// Blocks of recycled_float32 arrays: when such an array dies its block goes to this cache instead of
// back to the OS, and the next array of (about) the same size takes it, pages already mapped. Only
// memory that was in use at once is kept, up to kCapacity bytes (oldest blocks released first).
class BlockCache {
 public:
  static constexpr size_t kMinBytes = size_t{1} << 20;    // smaller arrays: numpy's own allocator
  static constexpr size_t kCapacity = size_t{512} << 20;  // cached (idle) bytes at most
  static constexpr size_t kHugePage = size_t{2} << 20;

  static BlockCache& instance() {
    static BlockCache* cache = new BlockCache();  // never destroyed: arrays may die during exit
    return *cache;
  }
  // A block of at least `bytes`, 2 MiB aligned and sized in whole 2 MiB pages, offered to the kernel as
  // transparent huge pages (as numpy does for large arrays): one fault per 2 MiB, few TLB misses.
  // *capacity receives its real size.
  void* take(size_t bytes, size_t* capacity) {
    const size_t rounded = (bytes + kHugePage - 1) / kHugePage * kHugePage;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      auto best = blocks_.end();
      for (auto it = blocks_.begin(); it != blocks_.end(); ++it)  // smallest that fits, at most 1/8 wasted
        if (it->bytes >= rounded && it->bytes - rounded <= rounded / 8 &&
            (best == blocks_.end() || it->bytes < best->bytes))
          best = it;
      if (best != blocks_.end()) {
        Block b = *best;
        blocks_.erase(best);
        cached_ -= b.bytes;
        *capacity = b.bytes;
        return b.data;
      }
    }
    void* data = std::aligned_alloc(kHugePage, rounded);
    if (!data) throw std::bad_alloc();
#ifdef MADV_HUGEPAGE
    madvise(data, rounded, MADV_HUGEPAGE);
#endif
    *capacity = rounded;
    return data;
  }
  void give_back(void* data, size_t bytes) {
    std::vector<void*> released;
    {
      std::lock_guard<std::mutex> lock(mutex_);
      if (bytes > kCapacity) {
        released.push_back(data);
      } else {
        while (cached_ + bytes > kCapacity) {
          released.push_back(blocks_.front().data);
          cached_ -= blocks_.front().bytes;
          blocks_.pop_front();
        }
        blocks_.push_back({data, bytes});
        cached_ += bytes;
      }
    }
    for (void* p : released) std::free(p);
  }

 private:
  struct Block {
    void* data;
    size_t bytes;
  };
  std::mutex mutex_;
  std::deque<Block> blocks_;  // oldest first
  size_t cached_ = 0;
};

// Owner of a cached block, destroyed with the last array that views it.
struct CachedBlock {
  void* data;
  size_t bytes;
};

}  // namespace

std::vector<py::ssize_t> array_shape(const std::vector<int64_t>& shape, size_t itemsize) {
  // numpy's C-order strides are itemsize times the product of the later dims, each computed even where
  // another dim is 0 (no elements), so every partial product must fit, not just the element count.
  int64_t span = static_cast<int64_t>(itemsize);
  for (int64_t d : shape) {
    if (d < 0) throw py::value_error("negative dimension in the output shape " + shape_str(shape));
    if (!sk::checked_mul(span, d > 0 ? d : 1, &span)) {
      PyErr_SetString(PyExc_MemoryError, ("an array of shape " + shape_str(shape) +
                                          " is larger than the address space").c_str());
      throw py::error_already_set();
    }
  }
  return std::vector<py::ssize_t>(shape.begin(), shape.end());
}

FloatArray empty_float32(const std::vector<int64_t>& shape) {
  return FloatArray(array_shape(shape, sizeof(float)));
}

py::array_t<int64_t, py::array::c_style> empty_int64(const std::vector<int64_t>& shape) {
  return py::array_t<int64_t, py::array::c_style>(array_shape(shape, sizeof(int64_t)));
}

FloatArray recycled_float32(const std::vector<int64_t>& shape) {
  const int64_t count = checked_product(shape, "recycled_float32", "the array size");
  if (count > PTRDIFF_MAX / static_cast<int64_t>(sizeof(float))) throw std::bad_alloc();  // MemoryError
  const size_t bytes = static_cast<size_t>(count) * sizeof(float);
  if (bytes < BlockCache::kMinBytes) return empty_float32(shape);
  size_t capacity = 0;
  void* data = BlockCache::instance().take(bytes, &capacity);
  CachedBlock* block;
  try {
    block = new CachedBlock{data, capacity};
  } catch (...) {
    BlockCache::instance().give_back(data, capacity);
    throw;
  }
  py::capsule owner(block, [](void* p) {
    auto* block = static_cast<CachedBlock*>(p);
    BlockCache::instance().give_back(block->data, block->bytes);
    delete block;
  });
  return FloatArray(array_shape(shape, sizeof(float)), static_cast<float*>(data), owner);
}

}  // namespace sk::bind

namespace sk::bind {
namespace {
std::pair<const char*, const char*> byte_bounds(const py::array& a) {
  const char* lo = static_cast<const char*>(a.data());
  const char* hi = lo;
  for (py::ssize_t d = 0; d < a.ndim(); ++d) {
    if (a.shape(d) == 0) return {lo, lo};
    py::ssize_t span = (a.shape(d) - 1) * a.strides(d);
    (span < 0 ? lo : hi) += span;
  }
  return {lo, hi + a.itemsize()};
}
}  // namespace

bool memory_overlaps(const py::array& a, const py::array& b) {
  auto [alo, ahi] = byte_bounds(a);
  auto [blo, bhi] = byte_bounds(b);
  return alo < bhi && blo < ahi && alo != ahi && blo != bhi;
}
}  // namespace sk::bind

namespace sk::bind {
void check_no_overlap(const Named& out, std::initializer_list<Named> inputs, const char* op) {
  if (out.array.is_none()) return;
  const auto o = py::reinterpret_borrow<py::array>(out.array);
  for (const Named& in : inputs)
    if (!in.array.is_none() && py::isinstance<py::array>(in.array) &&
        memory_overlaps(o, py::reinterpret_borrow<py::array>(in.array)))
      throw py::value_error(std::string(op) + ": argument '" + out.name + "' (written) must not share memory with '" +
                            in.name + "'");
}
}  // namespace sk::bind
