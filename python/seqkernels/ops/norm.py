"""``layer_norm`` over trailing dimensions, on the fused C++ kernel (forward saves mean and rstd)."""
from __future__ import annotations

import math

import numpy as np

from .. import _C
from ..autograd import Function
from ._checks import float32_array, optional_float32


def _normalized_shape(normalized_shape) -> tuple:
    shape = (normalized_shape,) if isinstance(normalized_shape, (int, np.integer)) else tuple(normalized_shape)
    if not shape or any(isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n <= 0 for n in shape):
        raise ValueError(f"layer_norm: argument 'normalized_shape' must be positive ints, got {normalized_shape!r}")
    return tuple(int(n) for n in shape)


class LayerNorm(Function):
    @staticmethod
    def forward(ctx, input, weight, bias, normalized_shape, eps):
        x = float32_array(input, "layer_norm", "input")
        shape = _normalized_shape(normalized_shape)
        if x.ndim < len(shape) or x.shape[x.ndim - len(shape):] != shape:
            raise ValueError(f"layer_norm: input of shape {x.shape} does not end with normalized_shape {shape}")
        w = optional_float32(weight, "layer_norm", "weight", shape)
        b = optional_float32(bias, "layer_norm", "bias", shape)
        dim = math.prod(shape)
        x2 = x.reshape(-1, dim)
        w1 = None if w is None else w.reshape(dim)
        y, mean, rstd = _C.layer_norm_forward(x2, w1, None if b is None else b.reshape(dim), float(eps))
        ctx.save_for_backward(x2, w1, mean, rstd)
        ctx.shapes = (x.shape, shape)
        return y.reshape(x.shape)

    @staticmethod
    def backward(ctx, grad_output):
        x2, w1, mean, rstd = ctx.saved_tensors
        input_shape, shape = ctx.shapes
        need_w, need_b = ctx.needs_input_grad[1:3]
        dx, dw, db = _C.layer_norm_backward(grad_output.reshape(x2.shape), x2, w1, mean, rstd, need_w, need_b)
        return (dx.reshape(input_shape), None if dw is None else dw.reshape(shape),
                None if db is None else db.reshape(shape))


def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    """Normalises over the trailing ``normalized_shape`` dims (mean 0, variance 1, biased variance), then
    ``* weight + bias``, as ``torch.nn.functional.layer_norm``."""
    return LayerNorm.apply(input, weight, bias, normalized_shape, eps)
