// Scratch memory of the CPU kernels: per thread and per purpose, one 64-byte aligned buffer that only
// grows and is kept between calls. A kernel called again therefore touches no fresh pages (the OS faults
// in and zeroes new pages on first touch: about a tenth of an LSTM layer's call). Contents are undefined.
//
// Each purpose has its own buffer, so a kernel may hold one while calling another kernel that takes a
// different one (the RNN's workspace while it calls the GEMM, which packs into its own two); a purpose's
// buffer is valid until the same thread asks for that purpose again.
#pragma once
#include <cstdint>

namespace sk {

enum class ScratchPurpose : int {
  gemm_packed_a,
  gemm_packed_b,
  gemm_shared_b,
  rnn_workspace,
  conv1d_columns,
  conv1d_column_grads,
  conv1d_windows,
  conv1d_window_grads,
  conv1d_window_products,
  quant_activations,
  quant_weight_scales,
  elementwise_gradient,
  crf_workspace,
  crf_weight_grads,
  attention_scores,
  count
};

// A buffer of at least `floats` floats for `purpose` on the calling thread.
float* thread_scratch(ScratchPurpose purpose, int64_t floats);

}  // namespace sk
