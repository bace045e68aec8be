"""Fused scaled-dot-product attention (``_C.attention_forward`` / ``_C.attention_backward``), with
``torch.nn.functional.scaled_dot_product_attention``'s arguments: leading dims folded to (B, H), masks folded
alike, grouped-query heads, causal alignment, the dropout seed."""
from __future__ import annotations

import math

import numpy as np

from .. import _C
from ._checks import seed_array

_OP = "scaled_dot_product_attention"


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


def _check(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa, causal_alignment):
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, np.ndarray):
            raise TypeError(f"{_OP}: argument '{name}' must be a Tensor, got {type(t).__name__}")
        if t.dtype != np.float32:
            raise TypeError(f"{_OP}: argument '{name}' must be float32, got {t.dtype}")
        if t.ndim < 3:
            raise ValueError(f"{_OP}: argument '{name}' must have at least 3 dims (..., L, D), got shape {t.shape}")
    heads_match = key.shape[:-2] == query.shape[:-2] or (
        enable_gqa and key.ndim == query.ndim and key.shape[:-3] == query.shape[:-3]
        and key.shape[-3] > 0 and query.shape[-3] % key.shape[-3] == 0)
    if not heads_match or value.shape != key.shape or key.shape[-1] != query.shape[-1]:
        raise ValueError(f"{_OP}: expected query (..., Lq, D) and key, value (..., Lk, D) "
                         "with equal leading dims (or, with enable_gqa, key heads dividing query heads) and D, got "
                         f"query {query.shape}, key {key.shape}, value {value.shape}")
    if is_causal and attn_mask is not None:
        raise ValueError(f"{_OP}: pass either attn_mask or is_causal=True, not both")
    if attn_mask is not None:
        if not isinstance(attn_mask, np.ndarray) or (attn_mask.dtype != np.bool_ and attn_mask.dtype != np.float32):
            raise TypeError(f"{_OP}: argument 'attn_mask' must be bool or float32, got "
                            f"{getattr(attn_mask, 'dtype', type(attn_mask).__name__)}")
        target = query.shape[:-1] + (key.shape[-2],)
        try:
            np.broadcast_shapes(attn_mask.shape, target)
            if len(attn_mask.shape) > len(target):
                raise ValueError
        except ValueError:
            raise ValueError(f"{_OP}: argument 'attn_mask' of shape {attn_mask.shape} does not "
                             f"broadcast to {target}") from None
    if causal_alignment not in ("top_left", "bottom_right"):
        raise ValueError(f"{_OP}: argument 'causal_alignment' must be 'top_left' or 'bottom_right', "
                         f"got {causal_alignment!r}")
    if not (0.0 <= float(dropout_p) < 1.0):
        raise ValueError(f"{_OP}: argument 'dropout_p' must be in [0, 1), got {dropout_p}")
    if scale is not None and not math.isfinite(scale):
        raise ValueError(f"{_OP}: argument 'scale' must be finite, got {scale}")


def _problem(query, key, value, attn_mask):
    """The kernel's 4-D operands and the folded mask. Grouped-query attention needs nothing here: the kernel
    reads each shared key/value head for its query heads in place."""
    mask = _mask_as_4d(attn_mask, query.shape[:-2], query.shape[-2], key.shape[-2])
    return _as_4d(query), _as_4d(key), _as_4d(value), mask


def sdpa_forward(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None, enable_gqa=False,
                 causal_alignment="top_left", seed=None):
    """out = softmax(q kᵀ · scale + mask) v over the last two dims: query (..., Lq, D), key and value
    (..., Lk, D) (with enable_gqa, fewer heads at dim -3, a divisor of query's); attn_mask bool (True =
    attend) or float32 (added), broadcastable to (..., Lq, Lk); scale None = 1/sqrt(D); with is_causal,
    ``causal_alignment`` 'top_left' (torch's: query i sees keys j <= i) or 'bottom_right' (j <= i + Lk - Lq).
    A row whose keys are all masked gives 0. -> (out, lse, seed); saved: lse (B, H, Lq) float32 and the
    dropout seed (0-d int64)."""
    _check(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa, causal_alignment)
    q, k, v, mask = _problem(query, key, value, attn_mask)
    seed = seed_array(seed) if dropout_p > 0.0 else np.array(0, dtype=np.int64)
    out, lse = _C.attention_forward(q, k, v, mask, dropout_p=float(dropout_p), is_causal=bool(is_causal),
                                    scale=None if scale is None else float(scale), seed=int(seed),
                                    causal_alignment=causal_alignment)
    return out.reshape(query.shape), lse, seed


def sdpa_backward(dy, query, key, value, out, lse, seed, attn_mask=None, dropout_p=0.0, is_causal=False,
                  scale=None, enable_gqa=False, causal_alignment="top_left", needs=(True, True, True)):
    """-> (dquery, dkey, dvalue) (a shared key/value head's gradient summed over its query heads). The kernel
    computes all three at once; ``needs`` only drops results."""
    q, k, v, mask = _problem(query, key, value, attn_mask)
    o = _as_4d(out)
    dq, dk, dv = _C.attention_backward(np.ascontiguousarray(dy, dtype=np.float32).reshape(o.shape), q, k, v, o, lse,
                                       attn_mask=mask, dropout_p=float(dropout_p), is_causal=bool(is_causal),
                                       scale=None if scale is None else float(scale), seed=int(seed),
                                       causal_alignment=causal_alignment)
    return (dq.reshape(query.shape) if needs[0] else None, dk.reshape(key.shape) if needs[1] else None,
            dv.reshape(value.shape) if needs[2] else None)


def sdpa_mask_backward(dy, query, key, value, out, lse, seed, attn_mask, dropout_p=0.0, is_causal=False, scale=None,
                       enable_gqa=False, causal_alignment="top_left"):
    """d loss / d attn_mask for a float mask (added to the scores): the scores' gradient
    dS = P * (dy vᵀ - rowsum(dy * out)), P = exp(q kᵀ · scale + mask - lse), summed over the dims the mask was
    broadcast along. Materialises the (..., Lq, Lk) scores, as any mask gradient must; without dropout only
    (the kernel's dropout mask is not reproduced here)."""
    if dropout_p > 0.0:
        raise ValueError(f"{_OP}: the gradient of a float 'attn_mask' needs dropout_p = 0, got {dropout_p}")
    q, k, v = (x.astype(np.float64) for x in (query, key, value))
    if k.shape[-3] != q.shape[-3]:  # grouped-query heads: each key/value head serves consecutive query heads
        k, v = (np.repeat(x, q.shape[-3] // x.shape[-3], axis=-3) for x in (k, v))
    scale = 1.0 / math.sqrt(q.shape[-1]) if scale is None else scale
    scores = q @ np.swapaxes(k, -1, -2) * scale + attn_mask
    row_lse = lse.reshape(query.shape[:-1])[..., None].astype(np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        p = np.where(np.isfinite(row_lse), np.exp(scores - row_lse), 0.0)  # a fully masked row: no gradient
    dy = np.asarray(dy, dtype=np.float64).reshape(query.shape)
    delta = np.sum(dy * out, axis=-1, keepdims=True)
    ds = p * (dy @ np.swapaxes(v, -1, -2) - delta)
    extra = ds.ndim - attn_mask.ndim
    ds = ds.sum(axis=tuple(range(extra))) if extra else ds
    axes = tuple(i for i, n in enumerate(attn_mask.shape) if n == 1 and ds.shape[i] != 1)
    return (ds.sum(axis=axes, keepdims=True) if axes else ds).astype(np.float32)


# ---- torch.nn.MultiheadAttention's masks ----------------------------------------------------------------------

def _mha_mask_array(mask, name: str):
    if mask is None:
        return None
    array = np.asarray(mask)
    if array.dtype != np.bool_ and array.dtype.kind != "f":
        raise TypeError(f"MultiheadAttention: argument '{name}' must be bool or float, got {array.dtype}")
    return array if array.dtype == np.bool_ else array.astype(np.float32, copy=False)


def mha_merge_masks(attn_mask, key_padding_mask, batch: int, heads: int, len_q: int, len_k: int, is_causal: bool):
    """torch's MultiheadAttention masks (bool True = *blocked*; float = added; key_padding_mask (N, S) True =
    ignore that key; attn_mask (L, S) or (N·heads, L, S)) as one mask for scaled_dot_product_attention
    (bool True = attend, or float added), broadcastable to (N, heads, L, S). Returns (mask, is_causal):
    a causal flag without other masks stays a flag for the kernel. Used by ``nn.MultiheadAttention`` and
    ``seqkernels.torch.MultiheadAttention``."""
    attn_mask = _mha_mask_array(attn_mask, "attn_mask")
    key_padding_mask = _mha_mask_array(key_padding_mask, "key_padding_mask")
    if attn_mask is None and key_padding_mask is None:
        return None, is_causal
    if attn_mask is None and is_causal:
        attn_mask = ~np.tril(np.ones((len_q, len_k), dtype=bool))
    if attn_mask is not None:
        if attn_mask.shape == (len_q, len_k):
            pass
        elif attn_mask.shape == (batch * heads, len_q, len_k):
            attn_mask = attn_mask.reshape(batch, heads, len_q, len_k)
        else:
            raise ValueError(f"MultiheadAttention: argument 'attn_mask' must have shape {(len_q, len_k)} or "
                             f"{(batch * heads, len_q, len_k)}, got {attn_mask.shape}")
    if key_padding_mask is not None:
        if key_padding_mask.shape != (batch, len_k):
            raise ValueError(f"MultiheadAttention: argument 'key_padding_mask' must have shape {(batch, len_k)}, "
                             f"got {key_padding_mask.shape}")
        key_padding_mask = key_padding_mask[:, None, None, :]
    masks = [m for m in (attn_mask, key_padding_mask) if m is not None]
    if all(m.dtype == np.bool_ for m in masks):
        allowed = ~masks[0]
        for m in masks[1:]:
            allowed = allowed & ~m
        return allowed, False
    additive = [np.where(m, np.float32(-np.inf), np.float32(0)) if m.dtype == np.bool_ else m for m in masks]
    return (additive[0] if len(additive) == 1 else additive[0] + additive[1]).astype(np.float32), False
