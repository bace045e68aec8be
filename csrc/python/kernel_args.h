// Argument helpers shared by the bindings of the kernel families (norm, activation, loss, optim, linear,
// conv1d, rnn): optional float32 vectors and matching shapes, raising binding_utils' exceptions.
#pragma once
#include <optional>

#include "binding_utils.h"

namespace sk::bind {

// None -> nothing; otherwise a float32 array of exactly `shape`.
inline std::optional<FloatArray> optional_array(py::handle obj, const std::vector<int64_t>& shape, const char* op,
                                                const char* arg) {
  if (obj.is_none()) return std::nullopt;
  FloatArray a = float32_array(obj, op, arg);
  check_shape(a, shape, op, arg);
  return a;
}

// None -> nothing; otherwise a float32 array of shape (length,).
inline std::optional<FloatArray> optional_vector(py::handle obj, int64_t length, const char* op, const char* arg) {
  return optional_array(obj, {length}, op, arg);
}

inline const float* data_or_null(const std::optional<FloatArray>& a) { return a ? a->data() : nullptr; }
inline float* mutable_data_or_null(std::optional<FloatArray>& a) { return a ? a->mutable_data() : nullptr; }
// The array, or None.
inline py::object array_or_none(const std::optional<FloatArray>& a) { return a ? py::object(*a) : py::none(); }

// A new float32 array of `shape` put in `out` when `wanted` (else `out` is None); returns its data or null.
inline float* optional_output(bool wanted, const std::vector<int64_t>& shape, py::object& out) {
  out = py::none();
  if (!wanted) return nullptr;
  FloatArray a = empty_float32(shape);
  float* data = a.mutable_data();
  out = a;
  return data;
}

// `b` must have exactly the shape of `a`.
inline void check_same_shape(const py::array& a, const py::array& b, const char* op, const char* arg) {
  check_shape(b, std::vector<int64_t>(a.shape(), a.shape() + a.ndim()), op, arg);
}

inline std::vector<int64_t> shape_of(const py::array& a) { return std::vector<int64_t>(a.shape(), a.shape() + a.ndim()); }

}  // namespace sk::bind
