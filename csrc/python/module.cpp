// seqkernels._C: the compiled kernels. Each csrc/python/bind_*.cpp registers its own functions.
#include "binding_utils.h"

PYBIND11_MODULE(_C, m) {
  m.doc() = "seqkernels compiled kernels (C++/OpenMP, optional CUDA)";
  sk::bind::add_registered_bindings(m);
}
