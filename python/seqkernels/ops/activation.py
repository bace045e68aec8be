"""``gelu``, ``softmax``, ``log_softmax`` and ``dropout`` on the C++ activation kernels."""
from __future__ import annotations

import numpy as np

from .. import _C
from ..autograd import Function
from ..random import next_seed
from ._checks import float32_array, last_axis_dim, unwrap


class Gelu(Function):
    @staticmethod
    def forward(ctx, input, approximate):
        x = float32_array(input, "gelu", "input")
        if approximate not in ("none", "tanh"):
            raise ValueError(f"gelu: argument 'approximate' must be 'none' or 'tanh', got {approximate!r}")
        ctx.save_for_backward(x)
        ctx.approximate = approximate
        return _C.gelu_forward(x, approximate)

    @staticmethod
    def backward(ctx, grad_output):
        (x,) = ctx.saved_tensors
        return _C.gelu_backward(grad_output, x, ctx.approximate), None


def _rows_along(x: np.ndarray, dim: int) -> np.ndarray:
    """x with ``dim`` moved last, as a C-contiguous (rows, size of dim) matrix."""
    moved = np.moveaxis(x, dim, -1) if x.ndim else x.reshape(1)
    return np.ascontiguousarray(moved).reshape(-1, moved.shape[-1] if moved.ndim else 1)


def _from_rows(rows: np.ndarray, shape: tuple, dim: int) -> np.ndarray:
    """Inverse of ``_rows_along``: back to ``shape`` with the last axis returned to ``dim``."""
    if not shape:
        return rows.reshape(())
    moved_shape = shape[:dim] + shape[dim + 1:] + (shape[dim],)
    return np.moveaxis(rows.reshape(moved_shape), -1, dim)


class Softmax(Function):
    @staticmethod
    def forward(ctx, input, dim, log):
        op = "log_softmax" if log else "softmax"
        x = float32_array(input, op, "input")
        d = last_axis_dim(dim, x.ndim, op)
        y = _C.softmax_forward(_rows_along(x, d), log)
        ctx.save_for_backward(y)
        ctx.layout = (x.shape, d, log)
        return _from_rows(y, x.shape, d)

    @staticmethod
    def backward(ctx, grad_output):
        (y,) = ctx.saved_tensors
        shape, d, log = ctx.layout
        return _from_rows(_C.softmax_backward(_rows_along(grad_output, d), y, log), shape, d), None, None


def _implicit_dim(ndim: int) -> int:
    """torch's legacy choice when ``dim`` is omitted: 0 for 0-, 1- and 3-d inputs, else 1."""
    return 0 if ndim in (0, 1, 3) else 1


class Dropout(Function):
    @staticmethod
    def forward(ctx, input, p, seed):
        x = float32_array(input, "dropout", "input")
        ctx.p, ctx.seed = p, seed
        return _C.dropout_forward(x, p, seed)

    @staticmethod
    def backward(ctx, grad_output):
        return _C.dropout_backward(grad_output, ctx.p, ctx.seed), None, None


def gelu(input, approximate: str = "none"):
    """GELU, ``x * Phi(x)`` (``approximate='none'``, via erf) or its tanh approximation (``'tanh'``)."""
    return Gelu.apply(input, approximate)


def softmax(input, dim=None):
    """``exp(x) / sum(exp(x))`` along ``dim`` (max-subtracted; any dim)."""
    return Softmax.apply(input, _implicit_dim(np.ndim(unwrap(input))) if dim is None else dim, False)


def log_softmax(input, dim=None):
    """``x - logsumexp(x)`` along ``dim`` (any dim)."""
    return Softmax.apply(input, _implicit_dim(np.ndim(unwrap(input))) if dim is None else dim, True)


def dropout(input, p: float = 0.5, training: bool = True):
    """Zeroes each element with probability ``p`` and scales the others by ``1 / (1 - p)`` when ``training``
    (otherwise returns ``input`` itself). The mask comes from a seed drawn from ``sk.manual_seed``'s generator,
    so it is reproducible and independent of the thread count; p = 1 gives zeros."""
    if isinstance(p, bool) or not isinstance(p, (int, float, np.floating)) or not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout: probability has to be between 0 and 1, but got {p!r}")
    if not training or p == 0.0:
        return input
    return Dropout.apply(input, float(p), next_seed())
