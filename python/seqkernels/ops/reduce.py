"""Reductions: sum, mean, and max / min (over everything, or along one dim with the indices).
``axes`` is a tuple of normalised dims, or None for all (see ``_checks.normalize_dims``).

float32 inputs reduce on the C++ kernels (``_C.sum_forward`` / ``sum_backward`` over one dim at a time, several
dims one after another, all of them as one flat dim; ``_C.max_forward`` / ``max_backward`` / ``amax_backward``;
min is the max of -x, exact). Other dtypes (integer sums and maxima, float64) keep numpy's dtype-general
reductions, which the kernels do not do; mean computes integers in float32 as torch does.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _C
from .elementwise import as_float

_F32 = np.dtype(np.float32)


def _kept_shape(shape, axes) -> tuple:
    """``shape`` with the reduced ``axes`` (None: all) set to 1."""
    return tuple(1 if axes is None or d in axes else n for d, n in enumerate(shape))


def _sum_kernel(x: np.ndarray, axes, keepdim: bool, mean: bool) -> np.ndarray:
    if axes is None:
        y = _C.sum_forward(x.reshape(-1), 0, mean)
    elif not axes:  # a 0-d input (or dim=()): nothing to reduce
        return x.copy()
    else:
        y = x
        for a in sorted(axes, reverse=True):  # the later dims first, so the earlier ones keep their numbers
            y = _C.sum_forward(y, a, mean)
    return y.reshape(_kept_shape(x.shape, axes)) if keepdim else y


def _sum_backward_kernel(dy: np.ndarray, input_shape: tuple, axes, mean: bool) -> np.ndarray:
    """dy (the reduced shape, with or without the kept 1s) broadcast back over ``axes`` (mean: / their sizes)."""
    if axes is None:
        return _C.sum_backward(dy.reshape(()), (math.prod(input_shape),), 0, mean).reshape(input_shape)
    if not axes:
        return dy.reshape(input_shape).copy()
    remaining = sorted(axes)
    dx = dy.reshape(tuple(n for d, n in enumerate(input_shape) if d not in axes))
    for a in sorted(axes):  # put the dims back in order: each call inserts one at its final position
        remaining.remove(a)
        dx = _C.sum_backward(dx, tuple(n for d, n in enumerate(input_shape) if d not in remaining), a, mean)
    return dx


def _expand(dy: np.ndarray, shape, axes, keepdim: bool) -> np.ndarray:
    """A reduction's output gradient broadcast back over the reduced axes (numpy path)."""
    if axes is not None and not keepdim:
        dy = np.expand_dims(dy, axes)
    return np.broadcast_to(dy, shape)


def sum_forward(x, axes=None, keepdim: bool = False):
    """-> (y,)"""
    if x.dtype == _F32:
        return (_sum_kernel(x, axes, keepdim, False),)
    return (x.sum(axis=axes, keepdims=keepdim),)


def sum_backward(dy, input_shape, axes=None, keepdim: bool = False):
    """-> (dx,)"""
    input_shape = tuple(input_shape)
    if dy.dtype == _F32:
        return (_sum_backward_kernel(dy, input_shape, axes, False),)
    return (_expand(dy, input_shape, axes, keepdim),)


def mean_forward(x, axes=None, keepdim: bool = False):
    """-> (y,) (integer inputs averaged in float32)"""
    x = as_float(x)
    if x.dtype == _F32:
        return (_sum_kernel(x, axes, keepdim, True),)
    return (x.mean(axis=axes, keepdims=keepdim),)


def mean_backward(dy, input_shape, axes=None, keepdim: bool = False):
    """-> (dx,)"""
    input_shape = tuple(input_shape)
    if dy.dtype == _F32:
        return (_sum_backward_kernel(dy, input_shape, axes, True),)
    count = math.prod(input_shape) if axes is None else math.prod(input_shape[a] for a in axes)
    scale = np.asarray(1.0 / count if count else float("nan"), dtype=dy.dtype)
    return (_expand(dy * scale, input_shape, axes, keepdim),)


def extremum_forward(x, dim=None, keepdim: bool = False, largest: bool = True):
    """max (``largest``) or min: over everything -> (y,); along ``dim`` -> (values, indices int64). NaN wins
    (the first NaN's index), ties go to the first index, as torch."""
    if x.size == 0:
        raise ValueError(f"{'max' if largest else 'min'}: the input is empty (shape {x.shape})")
    if x.dtype == _F32:
        src = x if largest else np.negative(x)
        if dim is None:
            y = _C.max_forward(src.reshape(-1), 0, False)[0]
            return (y if largest else np.negative(y, out=y),)
        values, idx = _C.max_forward(src, dim, True)
        if not largest:
            values = np.negative(values, out=values)
        if keepdim:
            values, idx = np.expand_dims(values, dim), np.expand_dims(idx, dim)
        return values, idx
    if dim is None:
        return (np.asarray(x.max() if largest else x.min()),)
    idx = np.argmax(x, axis=dim, keepdims=True) if largest else np.argmin(x, axis=dim, keepdims=True)
    values = np.take_along_axis(x, idx, axis=dim)
    if not keepdim:
        values, idx = np.squeeze(values, dim), np.squeeze(idx, dim)
    return values, idx.astype(np.int64, copy=False)


def extremum_backward(dy, x, y_or_indices, dim=None, keepdim: bool = False):
    """Over everything (``y_or_indices`` = y): the gradient shared evenly by ties, as torch; along ``dim``
    (``y_or_indices`` = the indices): it goes to the returned index. -> (dx,)"""
    if dy.dtype == _F32 and x.dtype == _F32:
        if dim is None:
            return (_C.amax_backward(dy.reshape(()), x.reshape(-1), y_or_indices.reshape(()), 0).reshape(x.shape),)
        if keepdim:
            dy, y_or_indices = np.squeeze(dy, dim), np.squeeze(y_or_indices, dim)
        return (_C.max_backward(dy, y_or_indices, x.shape, dim),)
    if dim is None:
        ties = x == y_or_indices
        return (ties * (dy / np.count_nonzero(ties)).astype(dy.dtype),)
    dx = np.zeros(x.shape, dtype=dy.dtype)
    idx = y_or_indices if keepdim else np.expand_dims(y_or_indices, dim)
    np.put_along_axis(dx, idx, dy if keepdim else np.expand_dims(dy, dim), axis=dim)
    return (dx,)
