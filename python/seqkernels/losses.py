"""Keras-style losses: ``SparseCategoricalCrossentropy``, ``BinaryCrossentropy``, ``MeanSquaredError``.

A loss is called as ``loss(y_pred, y_true, sample_weight=None)``: ``y_pred`` the model's output Tensor,
``y_true`` a numpy array, ``sample_weight`` an optional numpy array with one weight per sample. It
returns a scalar Tensor: the mean over samples of ``weight * per-sample loss`` (Keras's
"sum over batch size" reduction). The compute runs in seqkernels.functional's fused kernels.

``from_logits=False`` means, as in Keras, that ``y_pred`` holds probabilities. Every seqkernels model
returns logits, so when outputs cannot be probabilities (values outside [0, 1], or categorical rows not
summing to 1) they are taken as logits, with a one-time warning that says so.
"""
from __future__ import annotations

import warnings
from typing import Optional

import numpy as np

EPSILON = 1e-7  # Keras's backend epsilon: probabilities are kept this far from 0 before the log


class Loss:
    """Base class; subclasses implement ``per_sample(y_pred, y_true) -> Tensor (N,)``."""

    name = "loss"
    from_logits = False
    sparse = False

    def check_targets(self, y_true: np.ndarray, output_shape) -> None:
        """Raises before training when ``y_true`` cannot match outputs of ``output_shape``."""

    def per_sample(self, y_pred, y_true):
        raise NotImplementedError

    def __call__(self, y_pred, y_true, sample_weight: Optional[np.ndarray] = None):
        from .tensor import tensor

        losses = self.per_sample(y_pred, np.asarray(y_true))
        if sample_weight is None:
            return losses.mean()
        weights = tensor(np.asarray(sample_weight, dtype=np.float32).reshape(losses.shape))
        return (losses * weights).mean()

    def _takes_logits(self, y_pred, categorical: bool) -> bool:
        if self.from_logits:
            return True
        values = y_pred.data
        probabilities = values.size == 0 or (values.min() >= 0.0 and values.max() <= 1.0)
        if probabilities and categorical:
            probabilities = bool(np.allclose(values.sum(axis=-1), 1.0, atol=1e-3))
        if not probabilities and not getattr(self, "_warned", False):
            self._warned = True
            warnings.warn(f"{type(self).__name__}(from_logits=False) received outputs that are not probabilities; "
                          "taking them as logits (seqkernels models return logits: pass from_logits=True)",
                          stacklevel=4)
        return not probabilities


class SparseCategoricalCrossentropy(Loss):
    """Cross-entropy between integer labels and ``C`` class scores in the last axis. Labels may have
    any leading shape (``(N,)`` for classification, ``(N, L)`` for tagging: the per-sample loss is then
    the mean over the sample's labelled tokens); positions labelled ``ignore_class`` count for nothing."""

    name = "sparse_categorical_crossentropy"
    sparse = True

    def __init__(self, from_logits: bool = False, ignore_class: Optional[int] = None):
        self.from_logits = from_logits
        self.ignore_class = ignore_class

    def check_targets(self, y_true, output_shape) -> None:
        y_true = np.asarray(y_true)
        if y_true.dtype.kind not in "iu":
            if y_true.dtype.kind != "f" or not np.array_equal(y_true, np.round(y_true)):
                raise TypeError(f"{self.name}: labels must be integer class ids, got dtype {y_true.dtype}")
        expected = tuple(output_shape[1:-1])
        if tuple(y_true.shape[1:]) not in (expected, expected + (1,)):
            raise ValueError(f"{self.name}: labels of shape {y_true.shape} do not match outputs of shape "
                             f"{tuple(output_shape)}; expected labels of shape {(len(y_true),) + expected}")
        classes = output_shape[-1]
        labels = y_true if self.ignore_class is None else y_true[y_true != self.ignore_class]
        bad = labels[(labels < 0) | (labels >= classes)]
        if bad.size:
            raise IndexError(f"{self.name}: label {int(bad.flat[0])} is out of range for a model with "
                             f"{classes} outputs (labels must be in [0, {classes}))")

    def per_sample(self, y_pred, y_true):
        from . import functional as F
        from .tensor import tensor

        classes = y_pred.shape[-1]
        scores = y_pred if self._takes_logits(y_pred, categorical=True) else (y_pred + EPSILON).log()
        targets = y_true.reshape(-1).astype(np.int64)
        ignore = -100 if self.ignore_class is None else int(self.ignore_class)
        token_losses = F.cross_entropy(scores.reshape(-1, classes), tensor(targets), ignore_index=ignore,
                                       reduction="none")
        samples = y_pred.shape[0]
        if y_pred.ndim == 2:
            return token_losses.reshape(samples)
        labelled = (targets != ignore).reshape(samples, -1).sum(axis=1)
        per_token = token_losses.reshape(samples, -1)
        return per_token.sum(dim=1) / tensor(np.maximum(labelled, 1).astype(np.float32))


class BinaryCrossentropy(Loss):
    """Binary cross-entropy between 0/1 labels and one score per sample (outputs (N,) or (N, 1));
    with several output columns, the per-sample loss is the mean over them (multi-label)."""

    name = "binary_crossentropy"

    def __init__(self, from_logits: bool = False):
        self.from_logits = from_logits

    def check_targets(self, y_true, output_shape) -> None:
        y_true = np.asarray(y_true)
        if y_true.size != int(np.prod(output_shape)):
            raise ValueError(f"{self.name}: labels of shape {y_true.shape} do not match outputs of shape "
                             f"{tuple(output_shape)}")
        if y_true.size and (y_true.min() < 0 or y_true.max() > 1):
            raise ValueError(f"{self.name}: labels must lie in [0, 1], got values in "
                             f"[{y_true.min()}, {y_true.max()}]")

    def per_sample(self, y_pred, y_true):
        from . import functional as F
        from .tensor import tensor

        target = tensor(y_true.reshape(y_pred.shape).astype(np.float32))
        if self._takes_logits(y_pred, categorical=False):
            elementwise = F.binary_cross_entropy_with_logits(y_pred, target, reduction="none")
        else:
            elementwise = -(target * (y_pred + EPSILON).log() + (1.0 - target) * (1.0 - y_pred + EPSILON).log())
        return elementwise.reshape(y_pred.shape[0], -1).mean(dim=1)


class MeanSquaredError(Loss):
    """Mean over the output features of (y_pred - y_true)^2, per sample."""

    name = "mean_squared_error"

    def check_targets(self, y_true, output_shape) -> None:
        if np.asarray(y_true).size != int(np.prod(output_shape)):
            raise ValueError(f"{self.name}: targets of shape {np.shape(y_true)} do not match outputs of shape "
                             f"{tuple(output_shape)}")

    def per_sample(self, y_pred, y_true):
        from . import functional as F

        target = y_true.reshape(y_pred.shape).astype(np.float32)
        return F.mse_loss(y_pred, target, reduction="none").reshape(y_pred.shape[0], -1).mean(dim=1)


class _CallableLoss(Loss):
    """Wraps ``fn(y_pred, y_true) -> scalar Tensor`` (torch's argument order); sample weights are
    not supported for it."""

    def __init__(self, fn):
        self.fn = fn
        self.name = getattr(fn, "__name__", "loss")

    def __call__(self, y_pred, y_true, sample_weight=None):
        from .tensor import tensor

        if sample_weight is not None:
            raise ValueError(f"loss {self.name!r}: a plain function cannot take class_weight; use a Loss class")
        return self.fn(y_pred, tensor(np.asarray(y_true)))


_NAMED = {
    "sparse_categorical_crossentropy": SparseCategoricalCrossentropy,
    "binary_crossentropy": BinaryCrossentropy,
    "mse": MeanSquaredError,
    "mean_squared_error": MeanSquaredError,
}
LOSS_NAMES = tuple(_NAMED)


def get(loss) -> Loss:
    """A ``Loss`` from a name (see ``LOSS_NAMES``), a ``Loss`` object, or a callable."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str):
        if loss not in _NAMED:
            raise ValueError(f"compile: unknown loss {loss!r}; expected one of {', '.join(LOSS_NAMES)}, "
                             "a Loss object or a callable")
        return _NAMED[loss]()
    if callable(loss):
        return _CallableLoss(loss)
    raise TypeError(f"compile: loss must be a name, a Loss object or a callable, got {type(loss).__name__}")


__all__ = ["BinaryCrossentropy", "LOSS_NAMES", "Loss", "MeanSquaredError", "SparseCategoricalCrossentropy", "get"]
