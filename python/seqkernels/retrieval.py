"""Exact top-k retrieval by inner product (cosine for unit rows) on our GEMM, streaming over the corpus.

    scores, indices = sk.retrieval.search(queries, corpus, k=10)   # (Q, k) each, best first

The corpus is read ``block_rows`` rows at a time: each block's scores (Q, block_rows) come from one GEMM
(``sk.matmul``) and are merged into the running top-k, so memory stays at Q x (block_rows + k) scores however
many rows the corpus has (it may be a numpy memmap). Ties go to the lower corpus index."""
from __future__ import annotations

from typing import Tuple

import numpy as np


def search(queries, corpus, k: int = 10, block_rows: int = 16384) -> Tuple[np.ndarray, np.ndarray]:
    """Top-k rows of ``corpus`` (N, D) for each row of ``queries`` (Q, D) by inner product:
    -> (scores (Q, min(k, N)) float32 descending, indices (Q, min(k, N)) int64)."""
    from . import matmul

    q = np.asarray(queries)
    if q.ndim == 1:
        q = q[None]
    if q.dtype != np.float32 or getattr(corpus, "dtype", None) != np.float32:
        raise TypeError(f"search: queries and corpus must be float32, got {q.dtype} and "
                        f"{getattr(corpus, 'dtype', type(corpus).__name__)}")
    if q.ndim != 2 or corpus.ndim != 2 or q.shape[1] != corpus.shape[1]:
        raise ValueError(f"search: queries (Q, D) and corpus (N, D) must share D, got {q.shape} and {corpus.shape}")
    if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or k < 1:
        raise ValueError(f"search: argument 'k' must be an int >= 1, got {k!r}")
    if block_rows < 1:
        raise ValueError(f"search: argument 'block_rows' must be >= 1, got {block_rows}")
    n = corpus.shape[0]
    k = min(int(k), n)
    best_s = np.full((q.shape[0], 0), -np.inf, np.float32)
    best_i = np.zeros((q.shape[0], 0), np.int64)
    for start in range(0, n, block_rows):
        block = np.ascontiguousarray(corpus[start:start + block_rows])
        s = matmul(q, block.T)  # (Q, rows) on our GEMM; the transposed view is read in place
        s = np.concatenate([best_s, s], axis=1)
        idx = np.concatenate([best_i, np.broadcast_to(np.arange(start, start + block.shape[0]), (q.shape[0],
                                                                                                block.shape[0]))], 1)
        if s.shape[1] > k:  # keep the k best (lower index first among equals: lexsort on (index, -score))
            part = np.argpartition(-s, k - 1, axis=1)[:, :k]
            kth = np.take_along_axis(s, part, 1).min(axis=1, keepdims=True)
            keep = np.zeros_like(s, dtype=bool)
            keep[s > kth] = True
            ties = np.cumsum(s == kth, axis=1) <= (k - keep.sum(axis=1, keepdims=True))
            keep |= (s == kth) & ties
            rows = np.nonzero(keep)
            s = s[rows].reshape(q.shape[0], k)
            idx = idx[rows].reshape(q.shape[0], k)
        best_s, best_i = s, idx
    order = np.lexsort((best_i, -best_s), axis=1) if best_s.shape[1] else np.zeros_like(best_i)
    return np.take_along_axis(best_s, order, 1), np.take_along_axis(best_i, order, 1)
