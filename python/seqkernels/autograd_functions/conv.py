"""Function over ``ops/conv.py``."""
from __future__ import annotations

from ..autograd import Function
from ..ops import conv as C


class Conv1d(Function):
    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups):
        (y,) = C.conv1d_forward(x, weight, bias, stride, padding, dilation, groups)
        ctx.saved, ctx.options = (x, weight), (stride, padding, dilation, groups)
        return y

    @staticmethod
    def backward(ctx, dy):
        return C.conv1d_backward(dy, *ctx.saved, *ctx.options, needs=ctx.needs_input_grad[:3])
