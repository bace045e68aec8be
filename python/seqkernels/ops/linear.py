"""``linear``: y = x Wᵀ + b over the last dimension of x, on the fused C++ kernel (GEMM + bias)."""
from __future__ import annotations

from .. import _C
from ._checks import float32_array, optional_float32


def linear_forward(x, weight, bias=None):
    """x (*, in), weight (out, in), bias (out,) or None -> (y (*, out),); saved: none (backward takes x, weight)."""
    x = float32_array(x, "linear", "input")
    w = float32_array(weight, "linear", "weight")
    if w.ndim != 2:
        raise ValueError(f"linear: argument 'weight' must be 2-D (out_features, in_features), got shape {w.shape}")
    if x.ndim == 0 or x.shape[-1] != w.shape[1]:
        raise ValueError(f"linear: input of shape {x.shape} does not match weight of shape {w.shape}: "
                         f"expected the last dim of input to be {w.shape[1]}")
    b = optional_float32(bias, "linear", "bias", (w.shape[0],))
    if x.ndim == 2:
        return (_C.linear_forward(x, w, b),)
    return (_C.linear_forward(x.reshape(-1, w.shape[1]), w, b).reshape(x.shape[:-1] + (w.shape[0],)),)


def linear_backward(dy, x, weight, needs=(True, True, True)):
    """dx = dy W, dW = dyᵀ x, db = sum of dy over rows. needs: (input, weight, bias). -> (dx, dw, db)"""
    out_features, in_features = weight.shape
    dx, dw, db = _C.linear_backward(dy.reshape(-1, out_features), x.reshape(-1, in_features), weight, *needs)
    return (None if dx is None else dx.reshape(x.shape)), dw, db
