"""Function over ``ops/attention.py``."""
from __future__ import annotations

from ..autograd import Function
from ..ops import attention as A


class ScaledDotProductAttention(Function):
    @staticmethod
    def forward(ctx, query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa, causal_alignment):
        options = (attn_mask, dropout_p, is_causal, scale, enable_gqa, causal_alignment)
        out, lse, seed = A.sdpa_forward(query, key, value, *options)
        ctx.saved, ctx.options = (query, key, value, out, lse, seed), options
        return out

    @staticmethod
    def backward(ctx, dy):
        grads = A.sdpa_backward(dy, *ctx.saved, *ctx.options, needs=ctx.needs_input_grad[:3])
        if not ctx.needs_input_grad[3]:  # a float attn_mask that requires grad gets the scores' gradient
            return grads
        return grads + (A.sdpa_mask_backward(dy, *ctx.saved, *ctx.options),)
