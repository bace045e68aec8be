// Helpers shared by every binding file: argument validation with clear Python exceptions, array
// views that avoid copies where the memory layout allows, and the registry through which each
// binding file adds its functions to seqkernels._C.
//
// Errors follow DESIGN.md: TypeError for a wrong dtype/type, ValueError for a shape or option,
// IndexError for an id out of range, MemoryError when an allocation (a copy, an output) fails; each names
// the argument, what was expected and what came. dtypes are compared by equality, not identity (an array
// from pickle, multiprocessing or shared memory carries its own dtype object).
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace sk::bind {

namespace py = pybind11;

using FloatArray = py::array_t<float, py::array::c_style>;

// Registers `fn` to be called with the _C module at import. Use through SK_REGISTER_BINDINGS.
int register_bindings(const char* name, void (*fn)(py::module_&));
void add_registered_bindings(py::module_& m);

#define SK_REGISTER_BINDINGS(name)                                              \
  static void sk_bindings_##name(pybind11::module_& m);                         \
  static const int sk_bindings_registered_##name =                              \
      ::sk::bind::register_bindings(#name, &sk_bindings_##name);                \
  static void sk_bindings_##name(pybind11::module_& m)

// "(2, 3)" for an array's shape.
std::string shape_str(const py::array& a);
std::string shape_str(const std::vector<int64_t>& shape);
// The dtype of `obj` as numpy spells it ("float64"), or the Python type name if it is no array.
std::string dtype_str(py::handle obj);

// ---- checked arithmetic (seqkernels/checked_math.h) raising ValueError "op: <what> overflows int64" ----
int64_t checked_add(int64_t a, int64_t b, const char* op, const char* what);
int64_t checked_mul(int64_t a, int64_t b, const char* op, const char* what);
// The product of `dims` (an element count), checked.
int64_t checked_product(const std::vector<int64_t>& dims, const char* op, const char* what);
// `value` must lie in [lo, hi]; else ValueError naming `arg`.
void check_range(int64_t value, int64_t lo, int64_t hi, const char* op, const char* arg);

// True when `a` has dtype `want` (by equality, not identity).
bool has_dtype(const py::array& a, const py::dtype& want);

// True when numpy marks `a` aligned (its data and strides suit its dtype's alignment): what a kernel reading the
// array in place, rather than through a contiguous copy, requires.
inline bool is_aligned(const py::array& a) { return (a.flags() & py::detail::npy_api::NPY_ARRAY_ALIGNED_) != 0; }

// `obj` itself when it is a float32 array (any layout); any other dtype or type raises TypeError naming
// `op` and `arg`.
py::array require_float32(py::handle obj, const char* op, const char* arg);
// `obj` as a C-contiguous float32 array. A float32 array is used without a copy when already
// C-contiguous and aligned, and copied otherwise (a failed copy raises MemoryError); any other dtype raises
// TypeError naming `op` and `arg`.
FloatArray float32_array(py::handle obj, const char* op, const char* arg);
// `obj` must already be a writable, aligned, C-contiguous float32 array (it is written in place).
FloatArray float32_inplace(py::handle obj, const char* op, const char* arg);
// Integer ids (int32 or int64, any shape) as a C-contiguous int64 array; other dtypes raise TypeError.
py::array_t<int64_t, py::array::c_style> index_array(py::handle obj, const char* op, const char* arg);

void check_ndim(const py::array& a, int ndim, const char* op, const char* arg);
void check_shape(const py::array& a, const std::vector<int64_t>& expected, const char* op,
                 const char* arg);

// `shape` for a new C-contiguous array of `itemsize`-byte elements: ValueError for a negative dim,
// MemoryError when its strides or its byte size do not fit in the address space.
std::vector<py::ssize_t> array_shape(const std::vector<int64_t>& shape, size_t itemsize);

// A new, uninitialised C-contiguous float32 (int64) array.
FloatArray empty_float32(const std::vector<int64_t>& shape);
py::array_t<int64_t, py::array::c_style> empty_int64(const std::vector<int64_t>& shape);

// As empty_float32, for large arrays that a kernel overwrites entirely and that a training loop
// allocates again every step with the same shape (an RNN's saved activations, ~50 MB per layer): from
// 1 MiB up, the memory of dead arrays is recycled, so each step does not fault in and zero fresh pages
// (about a tenth of an LSTM layer's training step). Not for arrays that stay mostly untouched: numpy's
// fresh zero pages cost nothing until written.
FloatArray recycled_float32(const std::vector<int64_t>& shape);

}  // namespace sk::bind

namespace sk::bind {
// True when the memory spanned by the two arrays overlaps (an output must not alias an input).
bool memory_overlaps(const py::array& a, const py::array& b);

// An array argument and its name, for check_no_overlap.
struct Named {
  const char* name;
  py::handle array;  // a numpy array, or None (skipped)
};
// The output `out` (written by the kernel) must share no memory with any of `inputs`; else ValueError naming
// both. Every output a binding writes into a caller's array is checked against every array the kernel reads.
void check_no_overlap(const Named& out, std::initializer_list<Named> inputs, const char* op);
}  // namespace sk::bind
