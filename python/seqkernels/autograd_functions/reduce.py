"""Functions over ``ops/reduce.py`` and ``ops/matmul.py``."""
from __future__ import annotations

from ..autograd import Function
from ..ops import matmul as M
from ..ops import reduce as R


class Sum(Function):
    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.options = (x.shape, axes, keepdim)
        return R.sum_forward(x, axes, keepdim)[0]

    @staticmethod
    def backward(ctx, dy):
        return R.sum_backward(dy, *ctx.options)[0]


class Mean(Function):
    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.options = (x.shape, axes, keepdim)
        return R.mean_forward(x, axes, keepdim)[0]

    @staticmethod
    def backward(ctx, dy):
        return R.mean_backward(dy, *ctx.options)[0]


class Extremum(Function):
    """max / min over all elements (one output) or along one dim (values and indices)."""

    @staticmethod
    def forward(ctx, x, dim, keepdim, largest):
        out = R.extremum_forward(x, dim, keepdim, largest)
        ctx.saved, ctx.options = (x, out[-1]), (dim, keepdim)
        return out[0] if dim is None else out

    @staticmethod
    def backward(ctx, dy, d_indices=None):
        return R.extremum_backward(dy, *ctx.saved, *ctx.options)[0]


class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.operands = (a, b)
        return M.matmul_forward(a, b)[0]

    @staticmethod
    def backward(ctx, dy):
        return M.matmul_backward(dy, *ctx.operands, ctx.needs_input_grad)
