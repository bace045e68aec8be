// A float32 matrix whose rows are contiguous but may be further apart than their length (a column
// slice of a wider matrix: the q/k part of a fused projection, the gate or up half of a fused gate/up
// projection), read or written in place with its row stride when aligned. Any other layout is copied (inputs)
// or refused (outputs).
#pragma once
#include "binding_utils.h"

namespace sk::bind {

struct RowView {
  py::array array;  // keeps the memory alive
  int64_t rows = 0, cols = 0, ld = 0;
  const float* data() const { return static_cast<const float*>(array.data()); }
  float* mutable_data() { return static_cast<float*>(array.mutable_data()); }
};

inline bool unit_inner_stride(const py::array& a) {
  return a.ndim() == 2 && is_aligned(a) && a.strides(1) == static_cast<py::ssize_t>(sizeof(float)) && a.strides(0) >= 0 &&
         a.strides(0) % static_cast<py::ssize_t>(sizeof(float)) == 0 &&
         (a.shape(0) <= 1 || a.strides(0) >= a.shape(1) * static_cast<py::ssize_t>(sizeof(float)));
}

// A 2-D float32 input: read in place when its rows are contiguous, else copied once.
inline RowView row_view(py::handle obj, const char* op, const char* arg) {
  py::array a = require_float32(obj, op, arg);
  check_ndim(a, 2, op, arg);
  if (!unit_inner_stride(a)) a = float32_array(obj, op, arg);
  const int64_t ld = a.shape(0) <= 1 ? a.shape(1) : a.strides(0) / static_cast<py::ssize_t>(sizeof(float));
  return {a, a.shape(0), a.shape(1), ld};
}

// A 2-D float32 array written in place: rows must be contiguous and the array writable.
inline RowView row_view_inplace(py::handle obj, const char* op, const char* arg) {
  py::array a = require_float32(obj, op, arg);
  check_ndim(a, 2, op, arg);
  if (!unit_inner_stride(a))
    throw py::value_error(std::string(op) + ": argument '" + arg +
                          "' is written in place and must be aligned with contiguous rows (a row-major matrix or a column slice of one)");
  if (!a.writeable()) throw py::value_error(std::string(op) + ": argument '" + arg + "' is written in place but is read-only");
  const int64_t ld = a.shape(0) <= 1 ? a.shape(1) : a.strides(0) / static_cast<py::ssize_t>(sizeof(float));
  return {a, a.shape(0), a.shape(1), ld};
}

}  // namespace sk::bind
