// _C.quant_matmul, _C.quant_dequantize, _C.quant_quantize_q8_0: products on GGUF-quantized weights held
// as uint8 matrices (rows, bytes per row) — numpy views of a memory-mapped file are read in place.
#include <pybind11/stl.h>

#include "kernel_args.h"
#include "seqkernels/quant_matmul.h"

namespace sk::bind {
namespace {

using ByteArray = py::array_t<uint8_t, py::array::c_style>;

QuantType quant_type(int type, const char* op) {
  if (type == 2 || type == 3 || type == 8) return static_cast<QuantType>(type);
  throw py::value_error(std::string(op) + ": argument 'qtype' must be a GGML type id of Q4_0 (2), Q4_1 (3) or "
                        "Q8_0 (8), got " + std::to_string(type));
}

// A weight matrix: a C-contiguous uint8 array of shape (rows, K / 32 * block bytes).
ByteArray weight_bytes(py::handle obj, QuantType type, const char* op, const char* arg, int64_t* K) {
  const bool bytes_array = py::isinstance<py::array>(obj) && py::reinterpret_borrow<py::array>(obj).dtype().kind() == 'u' &&
                           py::reinterpret_borrow<py::array>(obj).itemsize() == 1;
  if (!bytes_array)
    throw py::type_error(std::string(op) + ": argument '" + arg + "' must be a uint8 array of quantized blocks, got " +
                         dtype_str(obj));
  auto a = py::reinterpret_borrow<py::array>(obj);
  if (a.ndim() != 2)
    throw py::value_error(std::string(op) + ": argument '" + arg + "' must be 2-D (rows, bytes per row), got shape " +
                          shape_str(a));
  if (!(a.flags() & py::array::c_style))
    throw py::value_error(std::string(op) + ": argument '" + arg + "' must be C-contiguous");
  const int64_t bytes = quant_block_bytes(type);
  if (a.shape(1) == 0 || a.shape(1) % bytes != 0)
    throw py::value_error(std::string(op) + ": argument '" + arg + "' rows of " + std::to_string(a.shape(1)) +
                          " bytes are not a whole number of " + std::to_string(bytes) + "-byte blocks");
  *K = a.shape(1) / bytes * kQuantBlock;
  return py::reinterpret_borrow<ByteArray>(obj);
}

FloatArray matmul(py::handle x_obj, py::handle weights_obj, int qtype, py::handle bias_obj) {
  const char* op = "quant_matmul";
  const QuantType type = quant_type(qtype, op);
  FloatArray x = float32_array(x_obj, op, "input");
  check_ndim(x, 2, op, "input");
  const int64_t M = x.shape(0), K = x.shape(1);
  if (K % kQuantBlock != 0)
    throw py::value_error(std::string(op) + ": the input's last dimension must be a multiple of 32 (GGUF blocks "
                          "hold 32 weights), got " + std::to_string(K));
  std::vector<py::handle> items;
  if (py::isinstance<py::array>(weights_obj)) {
    items.push_back(weights_obj);
  } else if (py::isinstance<py::sequence>(weights_obj)) {
    for (py::handle h : weights_obj) items.push_back(h);
  } else {
    throw py::type_error(std::string(op) + ": argument 'weights' must be a uint8 array or a sequence of them, got " +
                         dtype_str(weights_obj));
  }
  if (items.empty()) throw py::value_error(std::string(op) + ": argument 'weights' is empty");
  std::vector<ByteArray> keep;
  std::vector<QuantWeight> weights;
  int64_t N = 0;
  for (auto h : items) {
    int64_t k = 0;
    keep.push_back(weight_bytes(h, type, op, "weights", &k));
    if (k != K)
      throw py::value_error(std::string(op) + ": weights of " + std::to_string(k) + " columns do not match the " +
                            "input's " + std::to_string(K));
    weights.push_back({keep.back().data(), keep.back().shape(0)});
    N += keep.back().shape(0);
  }
  auto bias = optional_vector(bias_obj, N, op, "bias");
  FloatArray y = empty_float32({M, N});
  float* yp = y.mutable_data();
  const QuantMatmulSizes sizes{M, K, type, N};
  {
    py::gil_scoped_release release;
    quant_matmul(yp, x.data(), weights.data(), static_cast<int>(weights.size()), data_or_null(bias), sizes);
  }
  return y;
}

FloatArray dequantize(py::handle w_obj, int qtype, py::handle ids_obj) {
  const char* op = "quant_dequantize";
  const QuantType type = quant_type(qtype, op);
  int64_t K = 0;
  ByteArray w = weight_bytes(w_obj, type, op, "weight", &K);
  const int64_t rows = w.shape(0);
  py::array_t<int64_t, py::array::c_style> ids;
  int64_t count = rows;
  if (!ids_obj.is_none()) {
    ids = index_array(ids_obj, op, "ids");
    count = ids.size();
    const int64_t* p = ids.data();
    for (int64_t i = 0; i < count; ++i)
      if (p[i] < 0 || p[i] >= rows)
        throw py::index_error(std::string(op) + ": id " + std::to_string(p[i]) + " is out of range for " +
                              std::to_string(rows) + " rows");
  }
  std::vector<int64_t> shape;
  if (ids_obj.is_none()) {
    shape = {rows, K};
  } else {
    shape.assign(ids.shape(), ids.shape() + ids.ndim());
    shape.push_back(K);
  }
  FloatArray y = empty_float32(shape);
  float* yp = y.mutable_data();
  const int64_t* idp = ids_obj.is_none() ? nullptr : ids.data();
  py::gil_scoped_release release;
  quant_dequantize_rows(yp, w.data(), idp, type, count, K);
  return y;
}

ByteArray quantize_q8_0(py::handle x_obj) {
  const char* op = "quant_quantize_q8_0";
  FloatArray x = float32_array(x_obj, op, "input");
  check_ndim(x, 2, op, "input");
  const int64_t rows = x.shape(0), K = x.shape(1);
  if (K % kQuantBlock != 0)
    throw py::value_error(std::string(op) + ": the input's last dimension must be a multiple of 32, got " +
                          std::to_string(K));
  ByteArray out({rows, quant_row_bytes(QuantType::q8_0, K)});
  uint8_t* op_ = out.mutable_data();
  py::gil_scoped_release release;
  quant_quantize_q8_0(op_, x.data(), rows, K);
  return out;
}

}  // namespace

SK_REGISTER_BINDINGS(quant_matmul) {
  m.def("quant_matmul", &matmul, py::arg("input"), py::arg("weights"), py::arg("qtype"), py::arg("bias") = py::none(),
        "input (M, K) float32 @ [W_0; W_1; ...].T for GGUF-quantized uint8 weights (rows, bytes per row) -> (M, N).");
  m.def("quant_dequantize", &dequantize, py::arg("weight"), py::arg("qtype"), py::arg("ids") = py::none(),
        "float32 rows of a quantized matrix (all, or the rows `ids`: an embedding lookup).");
  m.def("quant_quantize_q8_0", &quantize_q8_0, py::arg("input"), "(rows, K) float32 -> Q8_0 blocks (rows, K/32*34).");
  m.def("quant_kernel_name", &quant_kernel_name, "The integer dot-product path compiled: avx512-vnni, avx2 or scalar.");
}

}  // namespace sk::bind
