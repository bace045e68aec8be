"""Activations: ``gelu``, ``softmax`` / ``log_softmax`` and ``dropout`` on the C++ kernels; the elementwise
activations (relu, tanh, sigmoid, silu, softplus, leaky_relu, elu) live in ``elementwise.py``."""
from __future__ import annotations

import numpy as np

from .. import _C
from ._checks import float32_array, normalize_dim, seed_array


def gelu_forward(x, approximate: str = "none"):
    """y = x * Phi(x) (``'none'``, via erf) or its tanh approximation (``'tanh'``). -> (y,); saved: none
    (backward takes x)."""
    x = float32_array(x, "gelu", "input")
    if approximate not in ("none", "tanh"):
        raise ValueError(f"gelu: argument 'approximate' must be 'none' or 'tanh', got {approximate!r}")
    return (_C.gelu_forward(x, approximate),)


def gelu_backward(dy, x, approximate: str = "none"):
    """-> (dx,)"""
    return (_C.gelu_backward(dy, x, approximate),)


def implicit_softmax_dim(ndim: int) -> int:
    """torch's legacy choice when softmax's ``dim`` is omitted: 0 for 0-, 1- and 3-d inputs, else 1."""
    return 0 if ndim in (0, 1, 3) else 1


def _rows_along(x: np.ndarray, dim: int) -> np.ndarray:
    """x with ``dim`` moved last, as a C-contiguous (rows, size of dim) matrix."""
    moved = np.moveaxis(x, dim, -1) if x.ndim else x.reshape(1)
    return np.ascontiguousarray(moved).reshape(-1, moved.shape[-1] if moved.ndim else 1)


def _from_rows(rows: np.ndarray, shape: tuple, dim: int) -> np.ndarray:
    """Inverse of ``_rows_along``: back to ``shape`` with the last axis returned to ``dim``."""
    if not shape:
        return rows.reshape(())
    moved_shape = shape[:dim] + shape[dim + 1:] + (shape[dim],)
    return np.moveaxis(rows.reshape(moved_shape), -1, dim)


def softmax_forward(x, dim=None, log: bool = False):
    """softmax (``exp(x) / sum exp(x)``) or log_softmax (``x - logsumexp(x)``) along ``dim`` (None: torch's
    implicit choice). -> (y,); saved: y itself (backward takes y)."""
    op = "log_softmax" if log else "softmax"
    x = float32_array(x, op, "input")
    d = normalize_dim(implicit_softmax_dim(x.ndim) if dim is None else dim, x.ndim, op)
    return (_from_rows(_C.softmax_forward(_rows_along(x, d), log), x.shape, d),)


def softmax_backward(dy, y, dim=None, log: bool = False):
    """dx = y * (dy - sum(dy * y)) for softmax; dy - exp(y) * sum(dy) for log_softmax. -> (dx,)"""
    d = normalize_dim(implicit_softmax_dim(y.ndim) if dim is None else dim, y.ndim, "softmax")
    dx = _C.softmax_backward(_rows_along(np.asarray(dy, np.float32), d), _rows_along(y, d), log)
    return (_from_rows(dx, y.shape, d),)


def dropout_check_p(p, op: str = "dropout") -> float:
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"{op}: probability has to be between 0 and 1, but got {p!r}")
    return float(p)


def dropout_forward(x, p: float = 0.5, seed=None):
    """Zeroes each element with probability p, scales the others by 1 / (1 - p) (p = 1: zeros). The mask is
    a counter-based stream of ``seed`` (None: drawn from ``sk.manual_seed``'s generator), independent of the
    thread count. -> (y, seed); saved: seed (0-d int64)."""
    x = float32_array(x, "dropout", "input")
    p = dropout_check_p(p)
    seed = seed_array(seed)
    return _C.dropout_forward(x, p, int(seed)), seed


def dropout_backward(dy, seed, p: float = 0.5):
    """dx = dy * mask / (1 - p), the mask replayed from ``seed``. -> (dx,)"""
    return (_C.dropout_backward(dy, float(p), int(seed)),)
