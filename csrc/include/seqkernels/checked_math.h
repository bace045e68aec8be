// Overflow-checked int64 size arithmetic, for every size, index and option derived from user input (the
// bindings wrap these in helpers that raise ValueError naming the argument; C++ callers test the bool).
//
//   checked_add(a, b, &r) / checked_mul(a, b, &r): r = a op b; false (r unspecified) when it does not fit.
//   ceil_div(a, b): ceil(a / b) for a >= 0, b >= 1, without the a + b - 1 that overflows for large b.
#pragma once
#include <cstdint>

namespace sk {

inline bool checked_add(int64_t a, int64_t b, int64_t* result) { return !__builtin_add_overflow(a, b, result); }
inline bool checked_sub(int64_t a, int64_t b, int64_t* result) { return !__builtin_sub_overflow(a, b, result); }
inline bool checked_mul(int64_t a, int64_t b, int64_t* result) { return !__builtin_mul_overflow(a, b, result); }

inline int64_t ceil_div(int64_t a, int64_t b) { return a / b + (a % b != 0 ? 1 : 0); }

}  // namespace sk
