"""Fused scaled-dot-product attention (``_C.attention_forward`` / ``_C.attention_backward``)."""
from __future__ import annotations

import math

import numpy as np

from .. import _C
from ..autograd import Function
from ..random import next_seed
from ..tensor import Tensor


def _as_4d(x: np.ndarray) -> np.ndarray:
    """(..., H, L, D) as (B, H, L, D): 4-D unchanged, 3-D gets a batch axis, more leading dims fold into B."""
    return x if x.ndim == 4 else x.reshape((-1,) + x.shape[-3:])


def _mask_as_4d(mask, leading, len_q, len_k):
    """The mask, broadcastable to leading + (Lq, Lk), as something broadcastable to the 4-D problem."""
    if mask is None or mask.ndim <= 3 or len(leading) <= 2:
        return mask  # it broadcasts over the (B, H) of the kernel as it is
    # More than two leading dims were folded into one; a mask with leading dims of its own is folded alike
    # (this copies it when it was a broadcast view).
    return np.broadcast_to(mask, tuple(leading) + (len_q, len_k)).reshape((-1,) + (leading[-1], len_q, len_k))


class ScaledDotProductAttention(Function):
    """out = softmax(q kᵀ · scale + mask) v over the last two dims; q (..., Lq, D), k and v (..., Lk, D)."""

    @staticmethod
    def forward(ctx, query, key, value, attn_mask, dropout_p, is_causal, scale, causal_alignment="top_left"):
        leading = query.shape[:-2]
        # grouped-query attention: the kernel reads each key/value head for its query heads in place
        q, k, v = _as_4d(query), _as_4d(key), _as_4d(value)
        mask = _mask_as_4d(attn_mask, leading, query.shape[-2], key.shape[-2])
        seed = next_seed() if dropout_p > 0.0 else 0
        ctx.options = dict(attn_mask=mask, dropout_p=dropout_p, is_causal=is_causal, scale=scale, seed=seed,
                           causal_alignment=causal_alignment)
        out, lse = _C.attention_forward(q, k, v, **ctx.options)
        ctx.save_for_backward(q, k, v, out, lse)
        ctx.shapes = (query.shape, key.shape, value.shape)
        return out.reshape(query.shape)

    @staticmethod
    def backward(ctx, grad_out):
        q, k, v, out, lse = ctx.saved_tensors
        dq, dk, dv = _C.attention_backward(np.ascontiguousarray(grad_out, dtype=np.float32).reshape(out.shape),
                                           q, k, v, out, lse, **ctx.options)
        q_shape, k_shape, v_shape = ctx.shapes
        return dq.reshape(q_shape), dk.reshape(k_shape), dv.reshape(v_shape), None, None, None, None, None


def _array(x, name):
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        return Tensor(x)
    raise TypeError(f"scaled_dot_product_attention: argument '{name}' must be a Tensor, got {type(x).__name__}")


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False, *, causal_alignment="top_left"):
    """``torch.nn.functional.scaled_dot_product_attention`` on the fused kernel.

    query (..., Lq, D), key and value (..., Lk, D) with the same leading dims (usually (B, H)), float32.
    attn_mask: bool (True = attend) or float32 (added to the scores), broadcastable to (..., Lq, Lk).
    is_causal: query i attends to keys j <= i (top-left aligned, as torch); not combinable with attn_mask, as in torch.
    causal_alignment="bottom_right" (not in torch's signature; torch spells it attn_mask=causal_lower_right(Lq, Lk)):
    with is_causal, query i attends to keys j <= i + Lk - Lq, the queries being the last Lq positions (a block of
    new queries after cached keys); rows before the first key (Lq > Lk) are fully masked and give 0.
    scale defaults to 1/sqrt(D). dropout_p > 0 drops attention probabilities (pass 0 in evaluation).
    enable_gqa: key and value may have fewer heads (dim -3) than query, a divisor of its count; each serves
    that many consecutive query heads (grouped-query attention; the kernel reads the shared heads in place).
    A row whose keys are all masked gives 0 and zero gradients (as torch's CPU kernel; its math path gives NaN).
    """
    query, key, value = _array(query, "query"), _array(key, "key"), _array(value, "value")
    for name, t in (("query", query), ("key", key), ("value", value)):
        if t.dtype != np.float32:
            raise TypeError(f"scaled_dot_product_attention: argument '{name}' must be float32, got {t.dtype}")
        if t.ndim < 3:
            raise ValueError(f"scaled_dot_product_attention: argument '{name}' must have at least 3 dims "
                             f"(..., L, D), got shape {tuple(t.shape)}")
    heads_match = key.shape[:-2] == query.shape[:-2] or (
        enable_gqa and query.ndim >= 3 and key.ndim == query.ndim and key.shape[:-3] == query.shape[:-3]
        and key.shape[-3] > 0 and query.shape[-3] % key.shape[-3] == 0)
    if not heads_match or value.shape != key.shape or key.shape[-1] != query.shape[-1]:
        raise ValueError("scaled_dot_product_attention: expected query (..., Lq, D) and key, value (..., Lk, D) "
                         "with equal leading dims (or, with enable_gqa, key heads dividing query heads) and D, got "
                         f"query {tuple(query.shape)}, key {tuple(key.shape)}, value {tuple(value.shape)}")
    if is_causal and attn_mask is not None:
        raise ValueError("scaled_dot_product_attention: pass either attn_mask or is_causal=True, not both")
    mask = None
    if attn_mask is not None:
        mask = attn_mask.data if isinstance(attn_mask, Tensor) else np.asarray(attn_mask)
        if mask.dtype != np.bool_ and mask.dtype != np.float32:
            raise TypeError("scaled_dot_product_attention: argument 'attn_mask' must be bool or float32, "
                            f"got {mask.dtype}")
        target = query.shape[:-1] + (key.shape[-2],)
        try:
            np.broadcast_shapes(mask.shape, target)
            if len(mask.shape) > len(target):
                raise ValueError
        except ValueError:
            raise ValueError(f"scaled_dot_product_attention: argument 'attn_mask' of shape {mask.shape} does not "
                             f"broadcast to {target}") from None
    if causal_alignment not in ("top_left", "bottom_right"):
        raise ValueError("scaled_dot_product_attention: argument 'causal_alignment' must be 'top_left' or "
                         f"'bottom_right', got {causal_alignment!r}")
    if not (0.0 <= float(dropout_p) < 1.0):
        raise ValueError(f"scaled_dot_product_attention: argument 'dropout_p' must be in [0, 1), got {dropout_p}")
    if scale is not None and not math.isfinite(scale):
        raise ValueError(f"scaled_dot_product_attention: argument 'scale' must be finite, got {scale}")
    return ScaledDotProductAttention.apply(query, key, value, mask, float(dropout_p), bool(is_causal),
                                           None if scale is None else float(scale), causal_alignment)
