"""Losses: ``cross_entropy`` on the fused C++ softmax cross-entropy kernel; ``binary_cross_entropy_with_logits``
and ``mse_loss`` on the element-wise loss kernels. torch.nn.functional semantics."""
from __future__ import annotations

import math

import numpy as np

from .. import _C
from ._checks import float32_array, index_array, optional_float32, reduction_option, unbroadcast

_F32 = np.float32


def _class_rows(x: np.ndarray, t: np.ndarray, op: str):
    """Logits (C,), (N, C) or (N, C, d1, ...) as a (rows, C) matrix with the matching 1-D targets; also the
    shape of the unreduced loss (the target's)."""
    if x.ndim == 2 and t.shape == x.shape[:1]:  # the common case first (the kernel copies a strided x)
        return x, t, t.shape
    if x.ndim == 0:
        raise ValueError(f"{op}: argument 'input' must have a class dimension, got a 0-d array")
    if x.ndim == 1:
        if t.ndim != 0:
            raise ValueError(f"{op}: an unbatched input of shape {x.shape} needs a 0-d target, got shape {t.shape}")
        return x.reshape(1, -1), t.reshape(1), ()
    expected = (x.shape[0],) + x.shape[2:]
    if t.shape != expected:
        raise ValueError(f"{op}: target of shape {t.shape} does not match input of shape {x.shape}: "
                         f"expected target shape {expected}")
    return np.ascontiguousarray(np.moveaxis(x, 1, -1)).reshape(-1, x.shape[1]), t.reshape(-1), t.shape


def cross_entropy_forward(x, target, weight=None, ignore_index: int = -100, reduction: str = "mean",
                          label_smoothing: float = 0.0):
    """Softmax cross-entropy of logits x (C) / (N, C) / (N, C, d1, ...) against class indices target () / (N) /
    (N, d1, ...). -> (loss, lse, weight_sum); saved: lse (rows,) float32, the log-sum-exp of each row, and
    weight_sum (a numpy float64 scalar), the denominator of 'mean'."""
    op = "cross_entropy"
    x = float32_array(x, op, "input")
    t = index_array(target, op, "target")
    reduction_option(reduction, op)
    if not 0.0 <= label_smoothing <= 1.0:
        raise ValueError(f"{op}: argument 'label_smoothing' must be in [0, 1], got {label_smoothing}")
    rows, t1, loss_shape = _class_rows(x, t, op)
    w = None if weight is None else optional_float32(weight, op, "weight", (rows.shape[1],))
    loss, lse, total, weight_sum = _C.cross_entropy_forward(rows, t1, w, int(ignore_index), float(label_smoothing))
    if reduction == "none":
        out = loss.reshape(loss_shape)
    elif reduction == "sum":
        out = np.array(total, dtype=_F32)
    else:
        out = np.array(total / weight_sum if weight_sum else math.nan, dtype=_F32)  # all ignored: NaN, as torch
    return out, lse, np.float64(weight_sum)


def cross_entropy_backward(dy, x, target, lse, weight_sum, weight=None, ignore_index: int = -100,
                           reduction: str = "mean", label_smoothing: float = 0.0):
    """d loss / d x (target gets no gradient). -> (dx,)"""
    rows, t1, _ = _class_rows(x, target, "cross_entropy")
    if reduction == "none":
        grad_rows = np.ascontiguousarray(dy, dtype=_F32).reshape(-1)
    else:
        scale = float(dy)
        if reduction == "mean":
            denom = float(weight_sum)
            scale = scale / denom if denom else 0.0  # all ignored: every row's gradient is 0 anyway
        grad_rows = np.full(rows.shape[0], scale, dtype=_F32)
    d = _C.cross_entropy_backward(rows, t1, weight, lse, grad_rows, int(ignore_index), float(label_smoothing))
    if x.ndim <= 2:
        return (d.reshape(x.shape),)
    moved = (x.shape[0],) + x.shape[2:] + (x.shape[1],)
    return (np.moveaxis(d.reshape(moved), -1, 1),)


def _bce_operands(x, t, weight, pos_weight):
    """x, target, weight (broadcast to x's shape) and pos_weight as the kernel takes them: pos_weight one value
    per class of x's last dim, or, when it varies along another dim, broadcast to x's shape with every array
    flattened to one row."""
    if weight is not None and weight.shape != x.shape:
        weight = np.broadcast_to(weight, x.shape)
    if pos_weight is not None:
        classes = x.shape[-1] if x.ndim else 1
        if pos_weight.size == (pos_weight.shape[-1] if pos_weight.ndim else 1):  # constant but along the last dim
            pos_weight = np.broadcast_to(pos_weight.reshape(-1), (classes,))
        else:
            pos_weight = np.broadcast_to(pos_weight, x.shape).reshape(-1)
            x, t = x.reshape(-1), t.reshape(-1)
            weight = None if weight is None else weight.reshape(-1)
    return x, t, weight, pos_weight


def binary_cross_entropy_with_logits_forward(x, target, weight=None, pos_weight=None, reduction: str = "mean"):
    """``-w [pos_weight t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))]``, stable for any x (the C++ kernel;
    'mean' and 'sum' summed in float64). -> (loss,); saved: none (backward takes x and target)."""
    op = "binary_cross_entropy_with_logits"
    x = float32_array(x, op, "input")
    t = float32_array(target, op, "target")
    reduction_option(reduction, op)
    if t.shape != x.shape:
        raise ValueError(f"{op}: target size {t.shape} must be the same as input size {x.shape}")
    for name, extra in (("weight", weight), ("pos_weight", pos_weight)):
        if extra is not None:
            float32_array(extra, op, name)
            if np.broadcast_shapes(extra.shape, x.shape) != x.shape:
                raise ValueError(f"{op}: argument '{name}' of shape {extra.shape} cannot be broadcast to the "
                                 f"input's shape {x.shape}")
    loss = _C.bce_with_logits_forward(*_bce_operands(x, t, weight, pos_weight), reduction)
    return (loss.reshape(x.shape) if reduction == "none" else loss,)


def binary_cross_entropy_with_logits_backward(dy, x, target, weight=None, pos_weight=None, reduction: str = "mean",
                                              needs=(True, True)):
    """needs: (input, target); weight and pos_weight get no gradient. -> (dx, dtarget)"""
    x2, t2, w2, pw2 = _bce_operands(x, target, weight, pos_weight)
    dy = np.asarray(dy, _F32)
    dx, dt = _C.bce_with_logits_backward(dy.reshape(x2.shape) if reduction == "none" else dy, x2, t2, w2, pw2,
                                         reduction, bool(needs[0]), bool(needs[1]))
    return (None if dx is None else dx.reshape(x.shape)), (None if dt is None else dt.reshape(x.shape))


def mse_loss_forward(x, target, reduction: str = "mean"):
    """Mean (or summed, or element-wise) squared error, shapes broadcast (the C++ kernel over the broadcast
    shape; 'mean' and 'sum' summed in float64). -> (loss,); saved: none (backward takes x and target)."""
    x = float32_array(x, "mse_loss", "input")
    t = float32_array(target, "mse_loss", "target")
    reduction_option(reduction, "mse_loss")
    try:
        shape = np.broadcast_shapes(x.shape, t.shape)
    except ValueError:
        raise ValueError(f"mse_loss: input of shape {x.shape} and target of shape {t.shape} cannot be "
                         "broadcast together") from None
    return (_C.mse_forward(np.broadcast_to(x, shape), np.broadcast_to(t, shape), reduction),)


def mse_loss_backward(dy, x, target, reduction: str = "mean", needs=(True, True)):
    """needs: (input, target); each gradient summed back to its operand's shape. -> (dx, dtarget)"""
    shape = np.broadcast_shapes(x.shape, target.shape)
    dx, dt = _C.mse_backward(np.asarray(dy, _F32), np.broadcast_to(x, shape), np.broadcast_to(target, shape),
                             reduction, bool(needs[0]), bool(needs[1]))
    return (None if dx is None else unbroadcast(dx, x.shape)), (None if dt is None else unbroadcast(dt, target.shape))
