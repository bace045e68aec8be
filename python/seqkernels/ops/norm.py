"""``layer_norm`` over trailing dimensions, on the fused C++ kernel (forward saves mean and rstd), and
``normalize`` (x / its p-norm along a dim, numpy)."""
from __future__ import annotations

import math

import numpy as np

from .. import _C
from ._checks import float32_array, float_array, normalize_dim, optional_float32


def _normalized_shape(normalized_shape) -> tuple:
    shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
    if not shape or any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0 for n in shape):
        raise ValueError(f"layer_norm: argument 'normalized_shape' must be positive ints, got {normalized_shape!r}")
    return tuple(int(n) for n in shape)


def layer_norm_forward(x, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    """y = (x - mean) * rstd * weight + bias over the trailing ``normalized_shape`` dims (biased variance).
    -> (y, mean, rstd); saved: mean, rstd (rows,) float32."""
    x = float32_array(x, "layer_norm", "input")
    shape = _normalized_shape(normalized_shape)
    if x.ndim < len(shape) or x.shape[x.ndim - len(shape):] != shape:
        raise ValueError(f"layer_norm: input of shape {x.shape} does not end with normalized_shape {shape}")
    w = optional_float32(weight, "layer_norm", "weight", shape)
    b = optional_float32(bias, "layer_norm", "bias", shape)
    dim = math.prod(shape)
    y, mean, rstd = _C.layer_norm_forward(x.reshape(-1, dim), None if w is None else w.reshape(dim),
                                          None if b is None else b.reshape(dim), float(eps))
    return y.reshape(x.shape), mean, rstd


def layer_norm_backward(dy, x, mean, rstd, normalized_shape, weight=None, needs=(True, True, True)):
    """needs: (input, weight, bias). -> (dx, dweight, dbias)"""
    shape = _normalized_shape(normalized_shape)
    dim = math.prod(shape)
    x2 = x.reshape(-1, dim)
    dx, dw, db = _C.layer_norm_backward(dy.reshape(x2.shape), x2, None if weight is None else weight.reshape(dim),
                                        mean, rstd, needs[1] and weight is not None, needs[2])
    return (dx.reshape(x.shape) if needs[0] else None, None if dw is None else dw.reshape(shape),
            None if db is None else db.reshape(shape))


def normalize_forward(x, p: float = 2.0, dim: int = 1, eps: float = 1e-12):
    """y = x / max(||x||_p, eps) along ``dim`` (torch.nn.functional.normalize; finite p > 0). -> (y, norm);
    saved: norm (x's shape with ``dim`` kept as 1)."""
    x = float_array(x, "normalize", "input")
    if isinstance(p, bool) or not isinstance(p, (int, float, np.integer, np.floating)) or not 0 < p < math.inf:
        raise ValueError(f"normalize: argument 'p' must be a finite number > 0, got {p!r}")
    d = normalize_dim(dim, x.ndim, "normalize")
    axis = d if x.ndim else None
    ax = np.abs(x)
    norm = np.sqrt((x * x).sum(axis=axis, keepdims=True)) if p == 2 else (ax ** p).sum(axis=axis, keepdims=True) ** (1 / p)
    return (x / np.maximum(norm, x.dtype.type(eps))).astype(x.dtype, copy=False), norm.astype(x.dtype, copy=False)


def normalize_backward(dy, x, norm, p: float = 2.0, dim: int = 1, eps: float = 1e-12):
    """With d = max(n, eps): dx = dy / d - [n > eps] (sum(dy x) / d²) dn/dx, dn/dx = sign(x) |x|^(p-1) / n^(p-1).
    -> (dx,)"""
    d = normalize_dim(dim, x.ndim, "normalize")
    axis = d if x.ndim else None
    denom = np.maximum(norm, x.dtype.type(eps))
    dx = dy / denom
    above = norm > eps
    if above.any():
        dot = (dy * x).sum(axis=axis, keepdims=True)
        with np.errstate(divide="ignore", invalid="ignore"):
            dn = x / norm if p == 2 else np.sign(x) * np.abs(x) ** (p - 1) / norm ** (p - 1)
        dx = dx - np.where(above, dot / (denom * denom), 0) * np.where(above, dn, 0)
    return (dx.astype(x.dtype, copy=False),)
