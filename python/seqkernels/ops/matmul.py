"""``matmul`` with torch.matmul semantics (1-D promotion, broadcast batch dims) on the GEMM kernel."""
from __future__ import annotations

import numpy as np

from .. import _C
from ..linalg import matmul_array
from ._checks import unbroadcast


def matmul_forward(a, b):
    """a (..., M, K) or (K,), b (..., K, N) or (K,), float32 -> (a @ b,)"""
    for x, name in ((a, "input"), (b, "other")):
        dtype = x.dtype if isinstance(x, np.ndarray) else None
        if dtype != np.float32:
            raise TypeError(f"matmul: argument '{name}' must be a float32 tensor, got "
                            f"{dtype if dtype is not None else type(x).__name__}")
    return (matmul_array(a, b),)


def matmul_backward(dy, a, b, needs=(True, True)):
    """da = dy bᵀ, db = aᵀ dy (each summed over broadcast batch dims). -> (da, db)"""
    # promote 1-D operands as matmul does, so every product below is (..., M, K) x (..., K, N)
    a2 = a[np.newaxis, :] if a.ndim == 1 else a
    b2 = b[:, np.newaxis] if b.ndim == 1 else b
    g2 = dy[..., np.newaxis] if b.ndim == 1 else dy
    if a.ndim == 1:
        g2 = np.expand_dims(g2, -2)
    da = db = None
    if needs[0]:
        da = unbroadcast(matmul_array(g2, np.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
    if needs[1]:
        if b2.ndim == 2 and a2.ndim > 2:
            # a shared weight: fold the batch into one GEMM, aᵀ dy summed over every row of the batch
            k, n = b2.shape
            db = _C.gemm(np.ascontiguousarray(a2).reshape(-1, k), np.ascontiguousarray(g2).reshape(-1, n),
                         trans_a=True)
        else:
            db = unbroadcast(matmul_array(np.swapaxes(a2, -1, -2), g2), b2.shape)
        db = db.reshape(b.shape)
    return da, db
