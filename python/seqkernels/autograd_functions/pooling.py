"""Functions over ``ops/pooling.py``."""
from __future__ import annotations

from ..autograd import Function
from ..ops import pooling as P


class MaxPool1d(Function):
    """max_pool1d (``output_size`` None) or adaptive_max_pool1d: (values, indices)."""

    @staticmethod
    def forward(ctx, x, kernel_size, stride, padding, dilation, ceil_mode, output_size):
        if output_size is None:
            y, indices = P.max_pool1d_forward(x, kernel_size, stride, padding, dilation, ceil_mode)
        else:
            y, indices = P.adaptive_max_pool1d_forward(x, output_size)
        ctx.indices, ctx.length = indices, x.shape[-1]
        return y, indices

    @staticmethod
    def backward(ctx, dy, d_indices=None):
        return P.max_pool1d_backward(dy, ctx.indices, ctx.length)[0]


class AvgPool1d(Function):
    @staticmethod
    def forward(ctx, x, *options):
        ctx.shape, ctx.options = x.shape, options
        return P.avg_pool1d_forward(x, *options)[0]

    @staticmethod
    def backward(ctx, dy):
        return P.avg_pool1d_backward(dy, ctx.shape, *ctx.options)[0]
