"""Function over ``ops/linear.py``."""
from __future__ import annotations

from ..autograd import Function
from ..ops import linear as L


class Linear(Function):
    @staticmethod
    def forward(ctx, x, weight, bias):
        (y,) = L.linear_forward(x, weight, bias)
        ctx.saved = (x, weight)
        return y

    @staticmethod
    def backward(ctx, dy):
        return L.linear_backward(dy, *ctx.saved, ctx.needs_input_grad)
