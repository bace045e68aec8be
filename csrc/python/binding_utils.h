// Helpers shared by every binding file: argument validation with clear Python exceptions, array
// views that avoid copies where the memory layout allows, and the registry through which each
// binding file adds its functions to seqkernels._C.
//
// Errors follow DESIGN.md: TypeError for a wrong dtype/type, ValueError for a shape or option,
// IndexError for an id out of range; each names the argument, what was expected and what came.
#pragma once
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
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

// `obj` itself when it is a float32 array (any layout); any other dtype or type raises TypeError naming
// `op` and `arg`.
py::array require_float32(py::handle obj, const char* op, const char* arg);
// `obj` as a C-contiguous float32 array. A float32 array is used without a copy when already
// C-contiguous and copied otherwise; any other dtype raises TypeError naming `op` and `arg`.
FloatArray float32_array(py::handle obj, const char* op, const char* arg);
// `obj` must already be a writable, C-contiguous float32 array (it is written in place).
FloatArray float32_inplace(py::handle obj, const char* op, const char* arg);
// Integer ids (int32 or int64, any shape) as a C-contiguous int64 array; other dtypes raise TypeError.
py::array_t<int64_t, py::array::c_style> index_array(py::handle obj, const char* op, const char* arg);

void check_ndim(const py::array& a, int ndim, const char* op, const char* arg);
void check_shape(const py::array& a, const std::vector<int64_t>& expected, const char* op,
                 const char* arg);

// A new, uninitialised C-contiguous float32 array.
FloatArray empty_float32(const std::vector<int64_t>& shape);

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
}  // namespace sk::bind
