"""Attention of new query rows against a key/value cache (a decoder's self-attention at inference):
grouped-query heads, and the causal mask aligned bottom-right (query i of a block of L new rows sits at
position past + i and sees keys 0 .. past + i). Array level, on the fused attention kernel."""
from __future__ import annotations

import numpy as np

from .. import _C


def cached_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, scale: float | None = None) -> np.ndarray:
    """q (B, L, H, D) (the new rows, any strides), k and v (B, Hkv, Lk, D) with Lk >= L (the cache, the new
    rows last) -> (B, L, H, D). H must be a multiple of Hkv."""
    B, L, H, D = q.shape
    Hkv, Lk = k.shape[1], k.shape[2]
    if H % Hkv or Lk < L:
        raise ValueError(f"cached_attention: query heads {H} must be a multiple of key heads {Hkv} and the cache "
                         f"({Lk}) must hold the {L} new rows")
    group = H // Hkv
    if group > 1:
        k, v = np.repeat(k, group, axis=1), np.repeat(v, group, axis=1)
    q4 = np.ascontiguousarray(q.transpose(0, 2, 1, 3))
    past = Lk - L
    mask, causal = None, False
    if L > 1:
        if past == 0:
            causal = True
        else:
            mask = np.arange(Lk)[None, :] <= np.arange(past, Lk)[:, None]
    out, _ = _C.attention_forward(q4, k, v, mask, is_causal=causal, scale=scale)
    return out.transpose(0, 2, 1, 3)
