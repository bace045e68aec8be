// conv1d: 1-D convolution (cross-correlation, as torch.nn.functional.conv1d) in float32, forward and backward.
//
//   x (N, C_in, L), w (C_out, C_in / groups, K), b (C_out) or none, y (N, C_out, L_out), all C-contiguous
//   (x, y and their gradients may be channels-last instead: Conv1dShape),
//   L_out = (L + pad_left + pad_right - dilation * (K - 1) - 1) / stride + 1.
//
// Multithreaded over sk::num_threads() (over batch items, or inside the GEMM when the batch is smaller than
// the thread count). Results are deterministic for a given thread count.
#pragma once
#include <cstdint>

namespace sk {

struct Conv1dShape {
  int64_t batch, in_channels, length;     // x: (batch, in_channels, length)
  int64_t out_channels, kernel_size;      // w: (out_channels, in_channels / groups, kernel_size)
  int64_t stride, pad_left, pad_right, dilation, groups;
  // Memory layouts, only where conv1d_window_path(*this): x and dx stored (N, L, C_in), y and dy stored
  // (N, L_out, C_out), instead of channels first.
  bool input_channels_last = false, output_channels_last = false;

  // Output length; <= 0 means the (padded) input is shorter than the dilated kernel.
  int64_t out_length() const {
    return (length + pad_left + pad_right - dilation * (kernel_size - 1) - 1) / stride + 1;
  }
};

// True for groups 1, stride 1, dilation 1, K >= 2: the path that reads the input's windows in place
// (conv1d.cpp), the only one that takes channels-last layouts.
bool conv1d_window_path(const Conv1dShape& s);

// y (N, C_out, L_out) = conv1d(x, w) + b;  x (N, C_in, L), w (C_out, C_in / groups, K), b (C_out) or null.
// Requires out_length() >= 1.
void conv1d_forward(float* y, const float* x, const float* w, const float* b, const Conv1dShape& s);

// dx (N, C_in, L), dw (C_out, C_in/groups, K), db (C_out): each overwritten, null when not wanted.
// dy (N, C_out, L_out) the gradient of y; x and w as forward.
void conv1d_backward(float* dx, float* dw, float* db, const float* dy, const float* x, const float* w,
                     const Conv1dShape& s);

}  // namespace sk
