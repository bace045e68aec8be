// axpy:  y = alpha * x + y, one thread per element (grid-stride loop).
// The smallest complete CUDA path: device query, transfers, a kernel launch and error checks.
#include <cuda_runtime.h>

#include <algorithm>
#include <stdexcept>
#include <string>

#include "seqkernels/cuda.h"

namespace sk_cuda {
namespace {

void check(cudaError_t status, const char* what) {
  if (status != cudaSuccess)
    throw std::runtime_error(std::string("CUDA error in ") + what + ": " + cudaGetErrorString(status));
}

__global__ void axpy_kernel(int64_t n, float alpha, const float* __restrict__ x, float* __restrict__ y) {
  for (int64_t i = blockIdx.x * int64_t(blockDim.x) + threadIdx.x; i < n; i += int64_t(gridDim.x) * blockDim.x)
    y[i] = fmaf(alpha, x[i], y[i]);
}

// Device buffer freed on scope exit, so an exception mid-way leaks nothing.
struct DeviceBuffer {
  float* ptr = nullptr;
  explicit DeviceBuffer(int64_t n) { check(cudaMalloc(&ptr, sizeof(float) * n), "cudaMalloc"); }
  ~DeviceBuffer() { cudaFree(ptr); }
};

}  // namespace

int device_count() {
  int count = 0;
  if (cudaGetDeviceCount(&count) != cudaSuccess) {
    cudaGetLastError();  // clear the sticky "no device" error
    return 0;
  }
  return count;
}

std::string device_name(int device) {
  cudaDeviceProp prop;
  check(cudaGetDeviceProperties(&prop, device), "cudaGetDeviceProperties");
  return prop.name;
}

void axpy(int64_t n, float alpha, const float* x, float* y) {
  if (n <= 0) return;
  if (device_count() == 0) throw std::runtime_error("CUDA error: no CUDA device is present");
  DeviceBuffer dx(n), dy(n);
  check(cudaMemcpy(dx.ptr, x, sizeof(float) * n, cudaMemcpyHostToDevice), "cudaMemcpy");
  check(cudaMemcpy(dy.ptr, y, sizeof(float) * n, cudaMemcpyHostToDevice), "cudaMemcpy");
  const int threads = 256;
  const int blocks = static_cast<int>(std::min<int64_t>((n + threads - 1) / threads, 65535));
  axpy_kernel<<<blocks, threads>>>(n, alpha, dx.ptr, dy.ptr);
  check(cudaGetLastError(), "axpy_kernel launch");
  check(cudaMemcpy(y, dy.ptr, sizeof(float) * n, cudaMemcpyDeviceToHost), "cudaMemcpy");
}

}  // namespace sk_cuda
