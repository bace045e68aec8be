"""Attention of new query rows against a key/value cache (a decoder's self-attention at inference): the fused
kernel reads the cache prefix and the query heads of the fused q/k/v projection in place, grouped-query heads
indexed inside the kernel, and the causal mask aligned bottom-right (query i of a block of L new rows sits at
position past + i and sees keys 0 .. past + i). Array level."""
from __future__ import annotations

import numpy as np

from .. import _C


def cached_attention(q: np.ndarray, k: np.ndarray, v: np.ndarray, scale: float | None = None) -> np.ndarray:
    """q (B, L, H, D) (the new rows; rows of D floats contiguous, any other strides), k and v (B, Hkv, Lk, D)
    with Lk >= L (the cache's filled prefix, the new rows last; read in place) -> (B, L, H, D). H must be a
    multiple of Hkv."""
    B, L, H, D = q.shape
    Hkv, Lk = k.shape[1], k.shape[2]
    if H % Hkv or Lk < L:
        raise ValueError(f"cached_attention: query heads {H} must be a multiple of key heads {Hkv} and the cache "
                         f"({Lk}) must hold the {L} new rows")
    out, _ = _C.attention_forward(q.transpose(0, 2, 1, 3), k, v, None, is_causal=L > 1, scale=scale,
                                  causal_alignment="bottom_right")
    return out.transpose(0, 2, 1, 3)
