// Runtime: threads, build information, the FMA-peak probe and the CUDA smoke kernel.
#include <algorithm>
#include <thread>

#include "binding_utils.h"
#include "seqkernels/gemm.h"
#include "seqkernels/parallel.h"
#include "seqkernels/peak.h"
#ifdef SEQKERNELS_WITH_CUDA
#include "seqkernels/cuda.h"
#endif

namespace sk::bind {

namespace {
// A peak measurement (`measure(threads, seconds)`) as a binding named `op` that checks its arguments.
template <double (*measure)(int, double)>
auto peak_binding(const char* op) {
  return [op](int64_t threads, double seconds) {
    // More threads than the machine runs at once measure nothing but oversubscription (and thousands of
    // busy-waiting threads, or an exit when they cannot be created).
    const int64_t hardware = std::max<int64_t>(1, std::thread::hardware_concurrency());
    check_range(threads, 1, hardware, op, "threads");
    if (!(seconds > 0.0 && seconds <= 60.0))
      throw py::value_error(std::string(op) + ": argument 'seconds' must be in (0, 60], got " + std::to_string(seconds));
    py::gil_scoped_release release;
    return measure(static_cast<int>(threads), seconds);
  };
}
}  // namespace

SK_REGISTER_BINDINGS(runtime) {
  m.def("get_num_threads", &sk::num_threads, "Threads the kernels use.");
  m.def(
      "set_num_threads",
      [](py::object n) {
        if (!py::isinstance<py::int_>(n) || py::isinstance<py::bool_>(n))
          throw py::type_error("set_num_threads: argument 'n' must be an int, got " + dtype_str(n));
        int overflow = 0;  // beyond long long: out of range too (a cast would raise pybind's RuntimeError)
        const long long v = PyLong_AsLongLongAndOverflow(n.ptr(), &overflow);
        if (overflow || v < 1 || v > 4096)
          throw py::value_error("set_num_threads: argument 'n' must be between 1 and 4096, got " +
                                std::string(py::str(n)));
        sk::set_num_threads(static_cast<int>(v));
      },
      py::arg("n"), "Sets the number of threads every kernel uses (>= 1).");

  m.def(
      "build_info",
      []() {
        py::dict info;
        info["version"] = SEQKERNELS_VERSION;
#ifdef SEQKERNELS_NATIVE_BUILD
        info["native"] = true;
#else
        info["native"] = false;
#endif
        info["sanitize"] = SEQKERNELS_SANITIZERS;  // the -fsanitize= list of this build ("" for none)
        info["simd"] = sk::simd_isa_name();
        info["gemm_kernel"] = sk::gemm_kernel_name();
        info["openmp"] = sk::has_openmp();
        info["num_threads"] = sk::num_threads();
#if defined(__clang__)
        info["compiler"] = std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
        info["compiler"] = std::string("gcc ") + __VERSION__;
#else
        info["compiler"] = "unknown";
#endif
#ifdef SEQKERNELS_WITH_CUDA
        info["cuda"] = true;
        int devices = sk_cuda::device_count();
        info["cuda_devices"] = devices;
        py::list names;
        for (int d = 0; d < devices; ++d) names.append(sk_cuda::device_name(d));
        info["cuda_device_names"] = names;
#else
        info["cuda"] = false;
        info["cuda_devices"] = 0;
        info["cuda_device_names"] = py::list();
#endif
        return info;
      },
      "What this build contains: SIMD path, GEMM micro-kernel, OpenMP, CUDA and visible devices.");

  m.def("measure_fma_peak", peak_binding<&sk::measure_fma_peak_gflops>("measure_fma_peak"), py::arg("threads"),
        py::arg("seconds") = 0.25, "Measured FP32 FMA peak in GFLOP/s with the given number of threads.");
  m.def("measure_int8_peak", peak_binding<&sk::measure_int8_peak_gops>("measure_int8_peak"), py::arg("threads"),
        py::arg("seconds") = 0.25,
        "Measured int8 peak (AVX-512 VNNI dpbusd, 2 ops per multiply-add) in GOP/s; 0 without a VNNI path.");

#ifdef SEQKERNELS_WITH_CUDA
  m.def(
      "cuda_axpy",
      [](float alpha, py::handle x, py::handle y) {
        auto xa = float32_array(x, "cuda_axpy", "x");
        auto ya = float32_inplace(y, "cuda_axpy", "y");
        check_no_overlap({"y", ya}, {{"x", xa}}, "cuda_axpy");
        if (xa.size() != ya.size())
          throw py::value_error("cuda_axpy: 'x' and 'y' must have the same size, got " + shape_str(xa) + " and " +
                                shape_str(ya));
        py::gil_scoped_release release;  // CUDA failures (no device included) raise RuntimeError
        sk_cuda::axpy(xa.size(), alpha, xa.data(), ya.mutable_data());
      },
      py::arg("alpha"), py::arg("x"), py::arg("y"), "y += alpha * x on the GPU (in place).");
#endif
}

}  // namespace sk::bind
