"""seqkernels: hand-written C++ kernels for sequence and language models.

    import seqkernels as sk
    sk.build_info()          # SIMD path, GEMM micro-kernel, OpenMP, CUDA
    sk.set_num_threads(2)
    c = sk.matmul(a, b)      # float32, numpy.matmul semantics (numpy in, numpy out; Tensors in, Tensor out)
"""
from __future__ import annotations

from . import _C
import numpy as _np

from .autograd import Function, enable_grad, no_grad, set_grad_enabled, is_grad_enabled
from .random import manual_seed
from . import tensor  # the module, callable: sk.tensor(data) is the factory
from .tensor import Tensor
from .tensor_functions import (abs, add, arange, argmax, argmin, cat, chunk, clone, concat, div, eq, exp, expand,
                             flatten, full, ge, gt, le, log, log_softmax, logical_and, logical_not, logical_or,
                             lt, masked_fill, matmul, max, mean, min, mul, ne, neg, ones, ones_like, permute, pow,
                             rand, randint, randn, relu, reshape, sigmoid, softmax, split, sqrt, squeeze, stack,
                             sub, sum, tanh, transpose, unsqueeze, where, zeros, zeros_like)

from . import nn
from . import optim
from . import models
from .io import load, save
from .dlpack import from_dlpack
from . import callbacks, losses, metrics, preprocessing  # Keras-style training and preprocessing
from . import retrieval
from . import quantization  # dynamic int8 quantization (quantize_dynamic)

float32, float64, int32, int64, uint8, bool = _np.float32, _np.float64, _np.int32, _np.int64, _np.uint8, _np.bool_
float, double, long = float32, float64, int64

__version__ = _C.build_info()["version"]


def set_num_threads(n: int) -> None:
    """Sets how many threads every seqkernels kernel uses (n >= 1)."""
    _C.set_num_threads(n)


def get_num_threads() -> int:
    """The number of threads seqkernels kernels use."""
    return _C.get_num_threads()


def build_info() -> dict:
    """What this build contains: ``simd`` path, ``gemm_kernel``, ``openmp``, ``native`` tuning,
    ``cuda`` (compiled in) and ``cuda_devices`` (visible GPUs), ``num_threads``, ``compiler``."""
    return dict(_C.build_info())


__all__ = ["Function", "Tensor", "build_info", "enable_grad", "from_dlpack", "get_num_threads", "is_grad_enabled", "load",
           "manual_seed", "matmul", "nn", "no_grad", "save", "set_grad_enabled", "set_num_threads", "tensor",
           "__version__",
           "abs", "add", "arange", "argmax", "argmin", "cat", "chunk", "clone", "concat", "div", "eq", "exp", "expand",
           "flatten", "full", "ge", "gt", "le", "log", "log_softmax", "logical_and", "logical_not", "logical_or", "lt",
           "masked_fill", "max", "mean", "min", "mul", "ne", "neg", "ones", "ones_like", "permute", "pow", "rand",
           "randint", "randn", "relu", "reshape", "sigmoid", "softmax", "split", "sqrt", "squeeze", "stack", "sub",
           "sum", "tanh", "transpose", "unsqueeze", "where", "zeros", "zeros_like",
           "float32", "float64", "int32", "int64", "uint8", "bool", "float", "double", "long"]


def __getattr__(name: str):
    # ``seqkernels.keras`` loads on first use, so ``import seqkernels as tf; tf.keras.layers.Dense`` works
    if name == "keras":
        import importlib
        return importlib.import_module(".keras", __name__)
    raise AttributeError(f"module 'seqkernels' has no attribute {name!r}")
