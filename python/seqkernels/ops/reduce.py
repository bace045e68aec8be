"""Reductions: sum, mean, and max / min (over everything, or along one dim with the indices).
``axes`` is a tuple of normalised dims, or None for all (see ``_checks.normalize_dims``)."""
from __future__ import annotations

import math

import numpy as np

from .elementwise import as_float


def _expand(dy: np.ndarray, shape, axes, keepdim: bool) -> np.ndarray:
    """A reduction's output gradient broadcast back over the reduced axes."""
    if axes is not None and not keepdim:
        dy = np.expand_dims(dy, axes)
    return np.broadcast_to(dy, shape)


def sum_forward(x, axes=None, keepdim: bool = False):
    """-> (y,)"""
    return (x.sum(axis=axes, keepdims=keepdim),)


def sum_backward(dy, input_shape, axes=None, keepdim: bool = False):
    """-> (dx,) (a broadcast view)"""
    return (_expand(dy, tuple(input_shape), axes, keepdim),)


def mean_forward(x, axes=None, keepdim: bool = False):
    """-> (y,) (integer inputs averaged in float32)"""
    return (as_float(x).mean(axis=axes, keepdims=keepdim),)


def mean_backward(dy, input_shape, axes=None, keepdim: bool = False):
    """-> (dx,) (a broadcast view)"""
    count = math.prod(input_shape) if axes is None else math.prod(input_shape[a] for a in axes)
    scale = np.asarray(1.0 / count if count else float("nan"), dtype=dy.dtype)
    return (_expand(dy * scale, tuple(input_shape), axes, keepdim),)


def extremum_forward(x, dim=None, keepdim: bool = False, largest: bool = True):
    """max (``largest``) or min: over everything -> (y,); along ``dim`` -> (values, indices int64)."""
    if x.size == 0:
        raise ValueError(f"{'max' if largest else 'min'}: the input is empty (shape {x.shape})")
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
    if dim is None:
        ties = x == y_or_indices
        return (ties * (dy / np.count_nonzero(ties)).astype(dy.dtype),)
    dx = np.zeros(x.shape, dtype=dy.dtype)
    idx = y_or_indices if keepdim else np.expand_dims(y_or_indices, dim)
    np.put_along_axis(dx, idx, dy if keepdim else np.expand_dims(dy, dim), axis=dim)
    return (dx,)
