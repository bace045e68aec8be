"""Matrix products on numpy arrays, computed by the seqkernels GEMM kernel.

``matmul_array`` follows ``numpy.matmul`` semantics exactly (1-D promotion, broadcast batch
dimensions) for float32 arrays; the Tensor-level ``sk.matmul`` builds on it.
"""
from __future__ import annotations

import numpy as np

from . import _C


def _as_float32_operand(x, name: str) -> np.ndarray:
    if not isinstance(x, np.ndarray):
        raise TypeError(f"matmul: argument '{name}' must be a numpy array, got {type(x).__name__}")
    if x.dtype != np.float32:
        raise TypeError(f"matmul: argument '{name}' must be float32, got {x.dtype}")
    if x.ndim == 0:
        raise ValueError(f"matmul: argument '{name}' must have at least 1 dimension, got a scalar")
    return x


def matmul_array(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a @ b`` for float32 arrays with ``numpy.matmul`` semantics.

    Transposed and sliced views are read in place by the kernel; broadcast batch dimensions are
    expanded only when both operands carry (different) batch dimensions.
    """
    a = _as_float32_operand(a, "a")
    b = _as_float32_operand(b, "b")
    a_shape, b_shape = a.shape, b.shape
    if a.ndim == 2 and b.ndim == 2 and a_shape[1] == b_shape[0]:  # the common case, straight to the kernel
        return _C.gemm(a, b)
    a2 = a[np.newaxis, :] if a.ndim == 1 else a
    b2 = b[:, np.newaxis] if b.ndim == 1 else b
    if a2.shape[-1] != b2.shape[-2]:
        raise ValueError(
            f"matmul: shapes {a_shape} and {b_shape} do not match: 'a' has {a2.shape[-1]} columns "
            f"but 'b' has {b2.shape[-2]} rows")
    M, K = a2.shape[-2:]
    N = b2.shape[-1]
    try:
        batch = np.broadcast_shapes(a2.shape[:-2], b2.shape[:-2])
    except ValueError:
        raise ValueError(
            f"matmul: batch dimensions of shapes {a_shape} and {b_shape} cannot be broadcast") from None
    if not batch:
        out = _C.gemm(a2, b2)
    elif b2.ndim == 2 and a2.flags.c_contiguous:
        # a shared 2-D right operand: the whole batch is one (batch*M, K) x (K, N) GEMM
        out = _C.gemm(a2.reshape(-1, K), b2).reshape(batch + (M, N))
    else:
        out = _C.gemm(_batched(a2, batch, M, K), _batched(b2, batch, K, N)).reshape(batch + (M, N))
    if a.ndim == 1:
        out = out[..., 0, :]
    if b.ndim == 1:
        out = out[..., 0]
    return out


def _batched(x: np.ndarray, batch: tuple, rows: int, cols: int) -> np.ndarray:
    """x as a 2-D matrix (shared by the whole batch) or a 3-D stack of the full batch."""
    if int(np.prod(x.shape[:-2], dtype=np.int64)) == 1 and int(np.prod(batch, dtype=np.int64)) != 1:
        return x.reshape(rows, cols)
    if x.shape[:-2] != batch:
        x = np.broadcast_to(x, batch + (rows, cols))
    return x.reshape(-1, rows, cols)
