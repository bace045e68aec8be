// conv1d: 1-D convolution (cross-correlation, as torch.nn.functional.conv1d) in float32, forward and backward.
//
//   x (N, C_in, L), w (C_out, C_in / groups, K), b (C_out) or none, y (N, C_out, L_out), all C-contiguous,
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

  // Output length; <= 0 means the (padded) input is shorter than the dilated kernel.
  int64_t out_length() const {
    return (length + pad_left + pad_right - dilation * (kernel_size - 1) - 1) / stride + 1;
  }
};

// y = conv1d(x, w) + b. `b` may be null (no bias). Requires out_length() >= 1.
void conv1d_forward(const Conv1dShape& s, const float* x, const float* w, const float* b, float* y);

// Given dy = dLoss/dy (N, C_out, L_out): dx (N, C_in, L), dw (C_out, C_in/groups, K), db (C_out), each
// overwritten; pass null for a gradient that is not wanted.
void conv1d_backward(const Conv1dShape& s, const float* x, const float* w, const float* dy, float* dx,
                     float* dw, float* db);

}  // namespace sk
