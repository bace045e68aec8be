"""Argument checks and normalisation shared by the op layer: the errors DESIGN.md asks for, raised before
any compute, naming the op, the argument, what was expected and what came."""
from __future__ import annotations

import builtins

import numpy as np

from .. import _C
from ..random import next_seed

_F32 = np.dtype(np.float32)


def float32_array(x, op: str, name: str) -> np.ndarray:
    """``x`` must be a float32 numpy array."""
    if type(x) is not np.ndarray and not isinstance(x, np.ndarray):
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


def float_array(x, op: str, name: str) -> np.ndarray:
    """A floating-point numpy array (float32 or float64)."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{op}: argument '{name}' must be a Tensor or numpy array, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: argument '{name}' must be a floating-point array, got {x.dtype}")
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


def normalize_dim(dim, ndim: int, op: str, extra: int = 0) -> int:
    """``dim`` normalised to [0, ndim + extra) (a 0-d input has the one dim 0 / -1), IndexError otherwise."""
    n = builtins.max(ndim + extra, 1)
    if type(dim) is int and -n <= dim < n:  # the common case, without the checks below
        return dim % n
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{op}: argument 'dim' must be an int, got {type(dim).__name__}")
    if not -n <= dim < n:
        raise IndexError(f"{op}: dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return int(dim) % n


def normalize_dims(dim, ndim: int, op: str):
    """Reduction axes as a tuple (None: all); a 0-d input accepts dim 0 / -1 and reduces nothing."""
    if dim is None:
        return None
    if type(dim) is int:
        return (normalize_dim(dim, ndim, op),) if ndim else ()
    dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    axes = tuple(normalize_dim(d, ndim, op) for d in dims)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{op}: dimension appears more than once in dim={dim}")
    return axes if ndim else ()


def single(value, op: str, name: str) -> int:
    """torch's 1-D conv/pool arguments: an int or a 1-tuple of int."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{op}: argument '{name}' must be an int or a 1-tuple of int, got {value!r}")
    return int(value)


def seed_array(seed) -> np.ndarray:
    """The seed a random op uses, as the 0-d int64 array it saves: ``seed``, or a fresh one from
    ``sk.manual_seed``'s generator when None."""
    if seed is None:
        seed = next_seed()
    return np.array(int(seed), dtype=np.int64)


def unbroadcast(grad: np.ndarray, shape) -> np.ndarray:
    """Sums ``grad`` over the dimensions that broadcasting added or stretched, back to ``shape`` (float32 on the
    binary kernels' reduction, other dtypes in numpy)."""
    shape = tuple(shape)
    if grad.shape == shape:
        return grad
    if grad.dtype == _F32:
        return _C.binary_backward(grad, shape, grad.shape, "add", True, False)[0]
    extra = grad.ndim - len(shape)
    if extra > 0:
        grad = grad.sum(axis=tuple(range(extra)))
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and grad.shape[i] != 1)
    if stretched:
        grad = grad.sum(axis=stretched, keepdims=True)
    return grad.reshape(shape)
