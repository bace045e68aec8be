"""seqkernels: hand-written C++ kernels for sequence and language models.

    import seqkernels as sk
    sk.build_info()          # SIMD path, GEMM micro-kernel, OpenMP, CUDA
    sk.set_num_threads(2)
    c = sk.matmul(a, b)      # float32, numpy.matmul semantics
"""
from __future__ import annotations

from . import _C
from .autograd import Function, no_grad, set_grad_enabled, is_grad_enabled
from .linalg import matmul_array
from .random import manual_seed
from .tensor import Tensor, tensor

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


def matmul(a, b):
    """Matrix product with ``numpy.matmul`` semantics, on the seqkernels GEMM kernel."""
    return matmul_array(a, b)


__all__ = ["Function", "Tensor", "build_info", "get_num_threads", "is_grad_enabled", "manual_seed", "matmul",
           "no_grad", "set_grad_enabled", "set_num_threads", "tensor", "__version__"]
