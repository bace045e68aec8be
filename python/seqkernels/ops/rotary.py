"""Rotary position embedding: array-level forward and backward on the C++ kernel.

``x`` holds rows of tokens, each ``heads * head_dim`` floats (any leading dims; the last one is the row).
``interleaved=False`` is the Llama / GPT-NeoX / Hugging Face half-split layout (pairs ``(i, i + R/2)``),
``interleaved=True`` the GPT-J layout (pairs ``(2i, 2i + 1)``), which GGUF Llama files need because their
q/k weights are stored permuted for it. ``positions`` gives each row's position (one per row).
"""
from __future__ import annotations

import numpy as np

from .. import _C


def _rotate(x, positions, head_dim, theta, rotary_dim, interleaved, inverse, inplace):
    if not isinstance(x, np.ndarray) or x.dtype != np.float32:
        raise TypeError(f"rotary_embedding: argument 'input' must be a float32 array, got "
                        f"{getattr(x, 'dtype', type(x).__name__)}")
    if x.ndim < 1:
        raise ValueError("rotary_embedding: argument 'input' must have at least one dimension")
    out = x if inplace else x.copy()
    rows = out if out.ndim == 2 else out.reshape(-1, out.shape[-1])
    if not np.shares_memory(rows, out):
        raise ValueError("rotary_embedding: an in-place input must be reshapeable to rows without a copy")
    try:
        positions = np.broadcast_to(np.asarray(positions), x.shape[:-1]).reshape(-1)
    except ValueError:
        raise ValueError(f"rotary_embedding: argument 'positions' of shape {np.shape(positions)} does not "
                         f"broadcast to the rows {x.shape[:-1]}") from None
    _C.rotary_embedding_(rows, np.ascontiguousarray(positions), int(head_dim), float(theta),
                         -1 if rotary_dim is None else int(rotary_dim), bool(interleaved), bool(inverse))
    return out


def rotary_embedding_forward(x, positions, head_dim: int, theta: float = 10000.0, rotary_dim: int | None = None,
                             interleaved: bool = False, inplace: bool = False) -> np.ndarray:
    """Rotates each head of each row by its position's angles (``rotary_dim`` defaults to ``head_dim``)."""
    return _rotate(x, positions, head_dim, theta, rotary_dim, interleaved, False, inplace)


def rotary_embedding_backward(dy, positions, head_dim: int, theta: float = 10000.0, rotary_dim: int | None = None,
                              interleaved: bool = False) -> np.ndarray:
    """dx: the inverse rotation of dy."""
    return _rotate(dy, positions, head_dim, theta, rotary_dim, interleaved, True, False)
