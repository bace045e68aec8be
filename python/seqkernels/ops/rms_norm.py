"""RMS normalisation (Llama's RMSNorm) over the last dimension: array-level forward and backward on the
C++ kernel. ``y = x / sqrt(mean(x**2) + eps) * weight``."""
from __future__ import annotations

import numpy as np

from .. import _C


def rms_norm_forward(x: np.ndarray, weight: np.ndarray | None = None, eps: float = 1e-6):
    """-> (y, rstd): y has x's shape, rstd one float per row (every dim but the last)."""
    x = np.asarray(x)
    if x.ndim < 1:
        raise ValueError("rms_norm: argument 'input' must have at least one dimension")
    y, rstd = _C.rms_norm_forward(x.reshape(-1, x.shape[-1]), weight, float(eps))
    return y.reshape(x.shape), rstd.reshape(x.shape[:-1])


def rms_norm_backward(dy: np.ndarray, x: np.ndarray, rstd: np.ndarray, weight: np.ndarray | None = None,
                      weight_grad: bool = True):
    """-> (dx, dweight or None) from forward's rstd."""
    x = np.asarray(x)
    d = x.shape[-1]
    dx, dw = _C.rms_norm_backward(np.asarray(dy).reshape(-1, d), x.reshape(-1, d), np.asarray(rstd).reshape(-1),
                                  weight, bool(weight_grad and weight is not None))
    return dx.reshape(x.shape), dw
