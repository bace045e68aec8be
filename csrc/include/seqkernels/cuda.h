// The CUDA side, present when the build found a CUDA compiler (SEQKERNELS_WITH_CUDA). Functions take
// host pointers and move data themselves, so callers need no CUDA headers. Every function throws
// std::runtime_error with CUDA's message on failure (including "no CUDA device"). Its namespace is
// sk_cuda, not sk: it is compiled once, outside the per-ISA copies of namespace sk (CMakeLists.txt).
#pragma once
#include <cstdint>
#include <string>

namespace sk_cuda {

int device_count();  // 0 when there is no driver or no device
std::string device_name(int device);

// y = alpha * x + y on the GPU (the kernel that proves the toolchain is wired end to end).
void axpy(int64_t n, float alpha, const float* x, float* y);

}  // namespace sk_cuda
