"""``pad`` (torch.nn.functional.pad): constant, reflect, replicate and circular padding of the trailing dims;
negative amounts crop. Each padded dim is one gather through an index map (output position -> input position,
-1 for the fill value), so forward and backward share one description of every mode."""
from __future__ import annotations

import numpy as np

MODES = ("constant", "reflect", "replicate", "circular")


def _pairs(pad, ndim: int, mode: str):
    """torch's ``pad``: (left, right) for the last dim, then the one before, ... -> [(axis, left, right)]."""
    if not isinstance(pad, (tuple, list)) or any(isinstance(p, bool) or not isinstance(p, (int, np.integer))
                                                 for p in pad):
        raise TypeError(f"pad: argument 'pad' must be a tuple of ints, got {pad!r}")
    if len(pad) % 2:
        raise ValueError(f"pad: padding length must be divisible by 2, got {len(pad)}")
    if len(pad) // 2 > ndim:
        raise ValueError(f"pad: padding length {len(pad)} is too large for an input of {ndim} dims")
    if mode not in MODES:
        raise ValueError(f"pad: argument 'mode' must be one of {MODES}, got {mode!r}")
    return [(ndim - 1 - i, int(pad[2 * i]), int(pad[2 * i + 1])) for i in range(len(pad) // 2)]


def _index_map(n: int, left: int, right: int, mode: str) -> np.ndarray:
    """For each output position along one dim, the input position it reads (-1: the constant fill)."""
    out = n + left + right
    if out < 0 or (out == 0 and mode != "constant"):
        raise ValueError(f"pad: padding ({left}, {right}) of a dim of size {n} leaves {out} elements")
    src = np.arange(out) - left
    if mode == "constant":
        return np.where((src >= 0) & (src < n), src, -1)
    if mode == "reflect":
        if max(left, right) >= n:
            raise ValueError(f"pad: reflect padding ({left}, {right}) must be smaller than the dim's size {n}")
        src = np.abs(src)
        return np.where(src >= n, 2 * (n - 1) - src, src)
    if mode == "replicate":
        if n == 0:
            raise ValueError("pad: replicate padding of an empty dim")
        return np.clip(src, 0, n - 1)
    if max(left, right) > n:
        raise ValueError(f"pad: circular padding ({left}, {right}) must not exceed the dim's size {n}")
    return src % n


def pad_forward(x, pad, mode: str = "constant", value=None):
    """x (*) -> (y,): each dim named by ``pad`` grown by (left, right) (cropped where negative); saved: none
    (backward takes x's shape)."""
    if not isinstance(x, np.ndarray):
        raise TypeError(f"pad: argument 'input' must be a Tensor or numpy array, got {type(x).__name__}")
    pairs = _pairs(pad, x.ndim, mode)
    if value is not None and mode != "constant":
        raise ValueError(f"pad: a fill value applies to mode='constant' only, got mode={mode!r}")
    fill = x.dtype.type(0 if value is None else value)
    y = x
    for axis, left, right in pairs:
        index = _index_map(x.shape[axis], left, right, mode)
        y = np.take(y, np.maximum(index, 0), axis=axis) if x.shape[axis] else np.zeros(
            y.shape[:axis] + (len(index),) + y.shape[axis + 1:], x.dtype)
        if (index < 0).any():
            where = [slice(None)] * y.ndim
            where[axis] = index < 0
            y[tuple(where)] = fill
    return (y if y is not x else x.copy(),)


def pad_backward(dy, input_shape, pad, mode: str = "constant"):
    """Each input element's gradient: the sum of dy over the output positions that read it. -> (dx,)"""
    input_shape = tuple(input_shape)
    for axis, left, right in reversed(_pairs(pad, len(input_shape), mode)):
        n = input_shape[axis]
        index = _index_map(n, left, right, mode)
        scatter = np.zeros((len(index), n), dy.dtype)  # (out, in): 1 where output o reads input i
        valid = index >= 0
        scatter[np.nonzero(valid)[0], index[valid]] = 1
        dy = np.moveaxis(np.moveaxis(dy, axis, -1) @ scatter, -1, axis)
    return (np.ascontiguousarray(dy),)
