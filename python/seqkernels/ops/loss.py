"""Losses: ``cross_entropy`` on the fused C++ softmax cross-entropy kernel; ``binary_cross_entropy_with_logits``
and ``mse_loss`` vectorised in numpy (memory-bound, one pass each way). torch.nn.functional semantics."""
from __future__ import annotations

import numpy as np

from .. import _C
from ..autograd import Function, unbroadcast
from ._checks import float32_array, index_array, optional_float32, reduction_option

_F32 = np.float32


def _class_rows(x: np.ndarray, t: np.ndarray, op: str):
    """Logits (C,), (N, C) or (N, C, d1, ...) as a (rows, C) matrix with the matching 1-D targets; also the
    shape of the unreduced loss (the target's)."""
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
    rows = x if x.ndim == 2 else np.moveaxis(x, 1, -1)
    return np.ascontiguousarray(rows).reshape(-1, x.shape[1]), t.reshape(-1), t.shape


class CrossEntropy(Function):
    @staticmethod
    def forward(ctx, input, target, weight, ignore_index, reduction, label_smoothing):
        op = "cross_entropy"
        x = float32_array(input, op, "input")
        t = index_array(target, op, "target")
        reduction_option(reduction, op)
        if not 0.0 <= label_smoothing <= 1.0:
            raise ValueError(f"{op}: argument 'label_smoothing' must be in [0, 1], got {label_smoothing}")
        rows, t1, loss_shape = _class_rows(x, t, op)
        classes = rows.shape[1]
        w = optional_float32(weight, op, "weight", (classes,))
        loss, lse = _C.cross_entropy_forward(rows, t1, w, int(ignore_index), float(label_smoothing))
        ctx.save_for_backward(rows, t1, w, lse)
        ctx.options = (x.shape, int(ignore_index), float(label_smoothing), reduction)
        if reduction == "none":
            return loss.reshape(loss_shape)
        total = loss.sum(dtype=np.float64)
        if reduction == "sum":
            return np.array(total, dtype=_F32)
        valid = t1 != ignore_index
        denom = float(w[t1[valid]].sum(dtype=np.float64)) if w is not None else float(np.count_nonzero(valid))
        ctx.denom = denom
        with np.errstate(invalid="ignore", divide="ignore"):  # every target ignored: NaN, as torch
            return np.array(np.float64(total) / denom, dtype=_F32)

    @staticmethod
    def backward(ctx, grad_output):
        rows, t1, w, lse = ctx.saved_tensors
        input_shape, ignore_index, label_smoothing, reduction = ctx.options
        if reduction == "none":
            grad_rows = np.ascontiguousarray(grad_output, dtype=_F32).reshape(-1)
        else:
            scale = float(grad_output) if reduction == "sum" else float(grad_output) / ctx.denom
            grad_rows = np.full(rows.shape[0], scale, dtype=_F32)
        d = _C.cross_entropy_backward(rows, t1, w, lse, grad_rows, ignore_index, label_smoothing)
        if len(input_shape) <= 2:
            return d.reshape(input_shape), None, None
        moved = (input_shape[0],) + input_shape[2:] + (input_shape[1],)
        return np.moveaxis(d.reshape(moved), -1, 1), None, None


def cross_entropy(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0):
    """Softmax cross-entropy of logits ``input`` (C), (N, C) or (N, C, d1, ...) against class-index ``target``
    () / (N) / (N, d1, ...), int32 or int64, as ``torch.nn.functional.cross_entropy``: ``weight`` (C) rescales
    classes ('mean' divides by the summed weights of the non-ignored targets), targets equal to
    ``ignore_index`` contribute nothing, ``label_smoothing`` mixes in the uniform distribution. Class
    probabilities as targets are not supported (class indices only). A target outside [0, C) raises
    IndexError; a NaN logit gives a NaN loss."""
    return CrossEntropy.apply(input, target, weight, ignore_index, reduction, label_smoothing)


def _reduce(loss: np.ndarray, reduction: str) -> np.ndarray:
    if reduction == "none":
        return loss
    total = loss.sum(dtype=np.float64)
    if reduction == "sum":
        return np.array(total, dtype=_F32)
    with np.errstate(invalid="ignore"):  # the mean of nothing is NaN, as torch
        return np.array(total / np.float64(loss.size), dtype=_F32)


def _upstream(grad_output: np.ndarray, shape: tuple, reduction: str) -> np.ndarray:
    """The gradient of each unreduced loss element."""
    if reduction == "none":
        return grad_output
    n = int(np.prod(shape))
    return np.broadcast_to(grad_output / n if reduction == "mean" else grad_output, shape)


class BinaryCrossEntropyWithLogits(Function):
    @staticmethod
    def forward(ctx, input, target, weight, pos_weight, reduction):
        op = "binary_cross_entropy_with_logits"
        x = float32_array(input, op, "input")
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
        softplus_neg = np.logaddexp(_F32(0), -x)  # -log sigmoid(x), stable for any x
        log_weight = 1.0 if pos_weight is None else (pos_weight - _F32(1)) * t + _F32(1)
        loss = (1 - t) * x + log_weight * softplus_neg
        if weight is not None:
            loss = loss * weight
        ctx.save_for_backward(x, t, weight, pos_weight, softplus_neg)
        ctx.reduction = reduction
        return _reduce(loss.astype(_F32, copy=False), reduction)

    @staticmethod
    def backward(ctx, grad_output):
        x, t, weight, pos_weight, softplus_neg = ctx.saved_tensors
        g = _upstream(grad_output, x.shape, ctx.reduction)
        if weight is not None:
            g = g * weight
        need_x, need_t = ctx.needs_input_grad[:2]
        sigmoid_neg = np.exp(-(softplus_neg + x))  # 1 - sigmoid(x) = exp(-softplus(x)), softplus(x) >= 0
        dx = dt = None
        if need_x:
            log_weight = 1.0 if pos_weight is None else (pos_weight - _F32(1)) * t + _F32(1)
            dx = (((1 - t) - log_weight * sigmoid_neg) * g).astype(_F32, copy=False)
        if need_t:
            dt_raw = -x if pos_weight is None else -x + (pos_weight - _F32(1)) * softplus_neg
            dt = (dt_raw * g).astype(_F32, copy=False)
        return dx, dt, None, None, None


def binary_cross_entropy_with_logits(input, target, weight=None, reduction: str = "mean", pos_weight=None):
    """``-w [pos_weight t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))]``, computed stably from the logits, as
    ``torch.nn.functional.binary_cross_entropy_with_logits``. Gradients flow to ``input`` and ``target``
    (not to ``weight`` / ``pos_weight``)."""
    return BinaryCrossEntropyWithLogits.apply(input, target, weight, pos_weight, reduction)


class MseLoss(Function):
    @staticmethod
    def forward(ctx, input, target, reduction):
        x = float32_array(input, "mse_loss", "input")
        t = float32_array(target, "mse_loss", "target")
        reduction_option(reduction, "mse_loss")
        try:
            shape = np.broadcast_shapes(x.shape, t.shape)
        except ValueError:
            raise ValueError(f"mse_loss: input of shape {x.shape} and target of shape {t.shape} cannot be "
                             "broadcast together") from None
        diff = x - t
        ctx.save_for_backward(diff)
        ctx.shapes = (x.shape, t.shape, shape, reduction)
        return _reduce(diff * diff, reduction)

    @staticmethod
    def backward(ctx, grad_output):
        (diff,) = ctx.saved_tensors
        x_shape, t_shape, shape, reduction = ctx.shapes
        d = (2 * diff * _upstream(grad_output, shape, reduction)).astype(_F32, copy=False)
        need_x, need_t = ctx.needs_input_grad[:2]
        return (unbroadcast(d, x_shape) if need_x else None), (unbroadcast(-d, t_shape) if need_t else None), None


def mse_loss(input, target, reduction: str = "mean"):
    """Mean (or summed, or element-wise) squared error, as ``torch.nn.functional.mse_loss`` (shapes broadcast)."""
    return MseLoss.apply(input, target, reduction)
