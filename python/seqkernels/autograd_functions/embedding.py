"""Function over ``ops/embedding.py``."""
from __future__ import annotations

from ..autograd import Function
from ..ops import embedding as E


class Embedding(Function):
    """y = weight[ids]; the table's gradient is dense or a ``SparseGrad``."""

    @staticmethod
    def forward(ctx, weight, ids, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse):
        (y,) = E.embedding_forward(weight, ids, padding_idx, max_norm, norm_type)
        ctx.ids, ctx.options = ids, (weight.shape[0], padding_idx, scale_grad_by_freq, sparse)
        return y

    @staticmethod
    def backward(ctx, dy):
        return E.embedding_backward(dy, ctx.ids, *ctx.options)[0], None
