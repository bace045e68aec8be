"""Functions over ``ops/norm.py``."""
from __future__ import annotations

from ..autograd import Function
from ..ops import norm as N


class LayerNorm(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, normalized_shape, eps):
        y, mean, rstd = N.layer_norm_forward(x, normalized_shape, weight, bias, eps)
        ctx.saved = (x, mean, rstd, normalized_shape, weight)
        return y

    @staticmethod
    def backward(ctx, dy):
        return N.layer_norm_backward(dy, *ctx.saved, ctx.needs_input_grad[:3])


class Normalize(Function):
    @staticmethod
    def forward(ctx, x, p, dim, eps):
        y, norm = N.normalize_forward(x, p, dim, eps)
        ctx.saved, ctx.options = (x, norm), (p, dim, eps)
        return y

    @staticmethod
    def backward(ctx, dy):
        return N.normalize_backward(dy, *ctx.saved, *ctx.options)[0]
