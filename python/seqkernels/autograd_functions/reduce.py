"""Functions over ``ops/reduce.py`` and ``ops/matmul.py``."""
from __future__ import annotations

from ..autograd import Function
from ..ops import matmul as M
from ..ops import reduce as R
from ._generic import op_function


# backward takes x's shape, then forward's axes and keepdim
Sum = op_function("Sum", R, "sum", "shapes", qualname=__name__)
Mean = op_function("Mean", R, "mean", "shapes", qualname=__name__)


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
