// seqkernels._C: the compiled kernels. Each csrc/python/bind_*.cpp registers its own functions.
//
// ISA dispatch. The default build holds several copies of the kernels and their bindings, one per
// instruction set: this module's own (namespace sk, the baseline ISA) and, next to it, shared libraries
// libseqkernels_avx512.so (x86-64-v4 + VNNI) and libseqkernels_avx2.so (x86-64-v3); see CMakeLists.txt.
// At import, the best copy this CPU runs is chosen by CPUID and registers its functions on the module;
// SEQKERNELS_ISA=avx512|avx2|baseline forces one (a lower one for testing; one the CPU lacks, or a name
// not compiled in, fails the import with ImportError). A SEQKERNELS_NATIVE=ON build has one copy, tuned
// for the building machine ("native").
#include <dlfcn.h>

#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "binding_utils.h"

namespace py = pybind11;

namespace {

struct IsaVariant {
  const char* name;
  bool (*supported)();
  bool in_this_module;  // the baseline (or native) copy; the others live in libseqkernels_<name>.so
};

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
// __builtin_cpu_supports checks the CPUID bits and that the OS saves the wider registers (XGETBV).
bool cpu_runs_avx512() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("x86-64-v4") && __builtin_cpu_supports("avx512vnni");
}
bool cpu_runs_avx2() {
  __builtin_cpu_init();
  return __builtin_cpu_supports("x86-64-v3");
}
#endif
bool always() { return true; }

// Best first; the baseline last.
std::vector<IsaVariant> compiled_variants() {
  std::vector<IsaVariant> variants;
#ifdef SEQKERNELS_HAVE_ISA_avx512
  variants.push_back({"avx512", &cpu_runs_avx512, false});
#endif
#ifdef SEQKERNELS_HAVE_ISA_avx2
  variants.push_back({"avx2", &cpu_runs_avx2, false});
#endif
#ifdef SEQKERNELS_NATIVE_BUILD
  variants.push_back({"native", &always, true});
#else
  variants.push_back({"baseline", &always, true});
#endif
  return variants;
}

const IsaVariant& choose(const std::vector<IsaVariant>& variants) {
  const char* forced = std::getenv("SEQKERNELS_ISA");
  if (forced == nullptr || *forced == '\0') {
    for (const IsaVariant& v : variants)
      if (v.supported()) return v;
  }
  std::string names;
  for (const IsaVariant& v : variants) {
    if (std::strcmp(v.name, forced) == 0) {
      if (!v.supported())
        throw py::import_error(std::string("SEQKERNELS_ISA=") + forced + ": this CPU cannot run the " + forced +
                               " kernels");
      return v;
    }
    names += (names.empty() ? "" : ", ") + std::string(v.name);
  }
  throw py::import_error(std::string("SEQKERNELS_ISA=") + forced + ": this build has the ISA variants " + names);
}

// Opens libseqkernels_<isa>.so from this module's folder (kept open for the process) and lets it register
// its functions on `m`.
void add_variant_bindings(const IsaVariant& variant, py::module_& m) {
  Dl_info self;
  if (dladdr(reinterpret_cast<void*>(&add_variant_bindings), &self) == 0 || self.dli_fname == nullptr)
    throw py::import_error("seqkernels._C: cannot locate its own file to load the ISA variants");
  std::string path = self.dli_fname;
  path = path.substr(0, path.find_last_of('/') + 1) + "libseqkernels_" + variant.name + ".so";
  void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) throw py::import_error(std::string("seqkernels._C: ") + dlerror());
  auto add_bindings = reinterpret_cast<int (*)(PyObject*)>(dlsym(library, "seqkernels_add_bindings"));
  if (add_bindings == nullptr) throw py::import_error("seqkernels._C: " + path + " has no seqkernels_add_bindings");
  if (add_bindings(m.ptr()) != 0) throw py::error_already_set();
}

}  // namespace

PYBIND11_MODULE(_C, m) {
  m.doc() = "seqkernels compiled kernels (C++/OpenMP, optional CUDA)";
  const std::vector<IsaVariant> variants = compiled_variants();
  const IsaVariant& chosen = choose(variants);
  if (chosen.in_this_module)
    sk::bind::add_registered_bindings(m);
  else
    add_variant_bindings(chosen, m);

  py::list compiled, runnable;
  for (const IsaVariant& v : variants) {
    compiled.append(v.name);
    if (v.supported()) runnable.append(v.name);
  }
  py::object variant_info = m.attr("build_info");
  std::string isa = chosen.name;
  m.attr("build_info") = py::cpp_function(
      [variant_info, isa, compiled, runnable]() {
        py::dict info = variant_info();
        info["isa"] = isa;
        info["isa_compiled"] = compiled;
        info["isa_supported"] = runnable;
        return info;
      },
      py::name("build_info"),
      py::doc("Version, the ISA variant in use (isa) and those compiled in (isa_compiled) and runnable here "
              "(isa_supported), SIMD path, GEMM micro-kernel, OpenMP, CUDA."));
}
