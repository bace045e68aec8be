"""Argument checks shared by the kernel-backed ops (linear, norm, activation, loss): the errors DESIGN.md
asks for, raised before any compute, naming the op, the argument, what was expected and what came."""
from __future__ import annotations

import numpy as np

from ..tensor import Tensor

_F32 = np.dtype(np.float32)


def unwrap(x):
    """A Tensor's array; anything else as it is."""
    return x.data if isinstance(x, Tensor) else x


def float32_array(x, op: str, name: str) -> np.ndarray:
    """``x`` (a Tensor's array, as ``Function.apply`` passes it, or a numpy array) must be float32."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{op}: argument '{name}' must be a Tensor or numpy array, got {type(x).__name__}")
    if x.dtype != _F32:
        raise TypeError(f"{op}: argument '{name}' must be float32, got {x.dtype}")
    return x


def optional_float32(x, op: str, name: str, shape) -> np.ndarray | None:
    """None, or a float32 array of exactly ``shape``."""
    if x is None:
        return None
    x = float32_array(x, op, name)
    if x.shape != tuple(shape):
        raise ValueError(f"{op}: argument '{name}' must have shape {tuple(shape)}, got {x.shape}")
    return x


def index_array(x, op: str, name: str) -> np.ndarray:
    """Class indices: an int32/int64 (or other signed integer) array."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{op}: argument '{name}' must be a Tensor or numpy array, got {type(x).__name__}")
    if x.dtype.kind not in "iu":
        raise TypeError(f"{op}: argument '{name}' must hold class indices (int32 or int64), got {x.dtype}")
    return x


def reduction_option(reduction, op: str) -> str:
    if reduction not in ("none", "mean", "sum"):
        raise ValueError(f"{op}: argument 'reduction' must be 'none', 'mean' or 'sum', got {reduction!r}")
    return reduction


def last_axis_dim(dim, ndim: int, op: str) -> int:
    """``dim`` normalised to [0, ndim) (a 0-d input has the one dim 0 / -1), IndexError otherwise."""
    n = max(ndim, 1)
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{op}: argument 'dim' must be an int, got {type(dim).__name__}")
    if not -n <= dim < n:
        raise IndexError(f"{op}: dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return int(dim) % n
