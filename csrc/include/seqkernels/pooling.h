// 1-D max and average pooling over the last dim of (rows, length) float32 rows (an (N, C, L) input is
// N·C rows), torch.nn.functional.max_pool1d / avg_pool1d, forward and backward.
//
// Output t's window starts at t·stride - padding and has kernel_size taps `dilation` apart (avg: dilation 1);
// taps outside [0, length) are padding (-inf for max, 0 for avg). The caller computes out_length (floor or
// ceil mode, as torch) and guarantees every window has at least one tap inside the row (torch requires
// padding <= kernel_size / 2).
//   max   y = the largest tap (NaN wins; the first of equal maxima), indices = its position in the row
//         dx[index] += dy
//   avg   y = Σ taps / divisor, divisor = divisor_override if > 0, else the window's taps within
//         [-padding, length + padding) (count_include_pad) or within [0, length)
//         dx[tap] += dy / divisor for every tap inside the row
// Rows are independent, split over the threads; every dx row is summed in a fixed order.
#pragma once
#include <cstdint>

namespace sk {

struct Pool1dShape {
  int64_t rows = 0, length = 0, out_length = 0;
  int64_t kernel_size = 1, stride = 1, padding = 0, dilation = 1;
};

// y (rows, out_length), indices (rows, out_length) positions in [0, length);  x (rows, length).
void max_pool1d_forward(float* y, int64_t* indices, const float* x, const Pool1dShape& s);
// dx (rows, length);  dy (rows, out_length), indices (rows, out_length) from forward.
void max_pool1d_backward(float* dx, const float* dy, const int64_t* indices, const Pool1dShape& s);

// y (rows, out_length);  x (rows, length).  s.dilation must be 1.
void avg_pool1d_forward(float* y, const float* x, const Pool1dShape& s, bool count_include_pad,
                        int64_t divisor_override);
// dx (rows, length);  dy (rows, out_length).
void avg_pool1d_backward(float* dx, const float* dy, const Pool1dShape& s, bool count_include_pad,
                         int64_t divisor_override);

}  // namespace sk
