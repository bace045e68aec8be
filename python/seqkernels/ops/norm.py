"""``layer_norm`` over trailing dimensions, on the fused C++ kernel (forward saves mean and rstd)."""
from __future__ import annotations

import math

import numpy as np

from .. import _C
from ._checks import float32_array, optional_float32


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
