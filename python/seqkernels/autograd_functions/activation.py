"""Functions over ``ops/activation.py``: gelu, softmax / log_softmax, dropout."""
from __future__ import annotations

from ..autograd import Function
from ..ops import activation as A


class Gelu(Function):
    @staticmethod
    def forward(ctx, x, approximate):
        (y,) = A.gelu_forward(x, approximate)
        ctx.x, ctx.approximate = x, approximate
        return y

    @staticmethod
    def backward(ctx, dy):
        return A.gelu_backward(dy, ctx.x, ctx.approximate)[0], None


class Softmax(Function):
    @staticmethod
    def forward(ctx, x, dim, log):
        (y,) = A.softmax_forward(x, dim, log)
        ctx.y, ctx.options = y, (dim, log)
        return y

    @staticmethod
    def backward(ctx, dy):
        return A.softmax_backward(dy, ctx.y, *ctx.options)[0], None, None


class Dropout(Function):
    @staticmethod
    def forward(ctx, x, p):
        y, ctx.seed = A.dropout_forward(x, p)
        ctx.p = p
        return y

    @staticmethod
    def backward(ctx, dy):
        return A.dropout_backward(dy, ctx.seed, ctx.p)[0], None
