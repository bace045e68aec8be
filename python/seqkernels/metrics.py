"""Keras-style metrics over numpy predictions: stateful objects that accumulate over an epoch.

Every metric has ``reset()``, ``update(y_true, y_pred)`` (numpy arrays: labels, and the model's raw
outputs for a batch) and ``result()`` (a float). ``get(name, loss)`` resolves the names ``compile``
accepts; ``"accuracy"`` follows the loss as in Keras (sparse categorical accuracy after a sparse
categorical cross-entropy, binary accuracy otherwise). ``classification_report`` gives the per-class
precision / recall / F1 table the ``seqkernels train`` command prints.
"""
from __future__ import annotations

from typing import Dict, List, Optional, Sequence

import numpy as np


def predicted_classes(y_pred: np.ndarray, threshold: float = 0.5) -> np.ndarray:
    """Class ids from raw outputs: argmax over the last axis, or ``y_pred > threshold`` when there is
    a single output column (a binary model)."""
    y_pred = np.asarray(y_pred)
    if y_pred.ndim == 1:
        return (y_pred > threshold).astype(np.int64)
    if y_pred.shape[-1] == 1:
        return (y_pred[..., 0] > threshold).astype(np.int64)
    return np.argmax(y_pred, axis=-1)


class Metric:
    """Base class: a named running value over the batches of an epoch."""

    name = "metric"

    def reset(self) -> None:
        raise NotImplementedError

    def update(self, y_true: np.ndarray, y_pred: np.ndarray) -> None:
        raise NotImplementedError

    def result(self) -> float:
        raise NotImplementedError


class _MeanOfMatches(Metric):
    """The fraction of (unmasked) positions where the predicted class equals the label."""

    def __init__(self, name: str, threshold: float = 0.5, ignore_class: Optional[int] = None):
        self.name = name
        self.threshold = threshold
        self.ignore_class = ignore_class
        self.reset()

    def reset(self) -> None:
        self.correct = 0
        self.total = 0

    def update(self, y_true, y_pred) -> None:
        pred = predicted_classes(y_pred, self.threshold)
        true = np.asarray(y_true).reshape(pred.shape)
        keep = np.ones(true.shape, dtype=bool) if self.ignore_class is None else true != self.ignore_class
        self.correct += int(np.count_nonzero((pred == true) & keep))
        self.total += int(np.count_nonzero(keep))

    def result(self) -> float:
        return self.correct / self.total if self.total else 0.0


def SparseCategoricalAccuracy(name: str = "sparse_categorical_accuracy") -> Metric:
    """Argmax of the outputs equals the integer label."""
    return _MeanOfMatches(name)


def BinaryAccuracy(name: str = "binary_accuracy", threshold: float = 0.5) -> Metric:
    """``output > threshold`` equals the 0/1 label (threshold 0 for logits)."""
    return _MeanOfMatches(name, threshold=threshold)


def MaskedTokenAccuracy(name: str = "masked_accuracy", ignore_class: int = -100) -> Metric:
    """Token-level accuracy for tagging, counting only positions whose label is not ``ignore_class``
    (padding)."""
    return _MeanOfMatches(name, ignore_class=ignore_class)


class _ConfusionMetric(Metric):
    """Precision, recall or F1 from a confusion matrix accumulated over the epoch. With one output
    column (binary) the score is the positive class's; with several it is the macro average over the
    classes seen (in labels or predictions), as scikit-learn's ``average="macro"``."""

    def __init__(self, name: str, score: str, threshold: float = 0.5):
        self.name = name
        self.score = score
        self.threshold = threshold
        self.reset()

    def reset(self) -> None:
        self.confusion = np.zeros((0, 0), dtype=np.int64)
        self.binary = False

    def update(self, y_true, y_pred) -> None:
        y_pred = np.asarray(y_pred)
        self.binary = y_pred.ndim == 1 or y_pred.shape[-1] == 1
        pred = predicted_classes(y_pred, self.threshold).reshape(-1)
        true = np.asarray(y_true).reshape(-1).astype(np.int64)
        labelled = true >= 0  # negative labels mark padding (ignored), as cross_entropy's ignore_index
        pred, true = pred[labelled], true[labelled]
        n = max(self.confusion.shape[0], int(pred.max(initial=0)) + 1, int(true.max(initial=0)) + 1, 2)
        if n > self.confusion.shape[0]:
            grown = np.zeros((n, n), dtype=np.int64)
            k = self.confusion.shape[0]
            grown[:k, :k] = self.confusion
            self.confusion = grown
        np.add.at(self.confusion, (true, pred), 1)

    def result(self) -> float:
        precision, recall, f1, support = scores_from_confusion(self.confusion)
        values = {"precision": precision, "recall": recall, "f1": f1}[self.score]
        if self.binary:
            return float(values[1]) if len(values) > 1 else 0.0
        seen = (support > 0) | (self.confusion.sum(axis=0) > 0)
        return float(values[seen].mean()) if seen.any() else 0.0


def Precision(name: str = "precision", threshold: float = 0.5) -> Metric:
    return _ConfusionMetric(name, "precision", threshold)


def Recall(name: str = "recall", threshold: float = 0.5) -> Metric:
    return _ConfusionMetric(name, "recall", threshold)


def F1Score(name: str = "f1", threshold: float = 0.5) -> Metric:
    """Macro F1 (binary: the positive class's F1)."""
    return _ConfusionMetric(name, "f1", threshold)


def scores_from_confusion(confusion: np.ndarray):
    """Per-class precision, recall, F1 and support from a (true, predicted) confusion matrix; a
    ratio with a zero denominator is 0 (scikit-learn's ``zero_division=0``)."""
    confusion = np.asarray(confusion, dtype=np.float64)
    tp = np.diag(confusion)
    predicted = confusion.sum(axis=0)
    support = confusion.sum(axis=1)
    precision = np.divide(tp, predicted, out=np.zeros_like(tp), where=predicted > 0)
    recall = np.divide(tp, support, out=np.zeros_like(tp), where=support > 0)
    both = precision + recall
    f1 = np.divide(2 * precision * recall, both, out=np.zeros_like(tp), where=both > 0)
    return precision, recall, f1, support.astype(np.int64)


def classification_report(y_true, y_pred_classes, class_names: Sequence[str]) -> str:
    """A per-class precision / recall / F1 / support table with accuracy and macro averages."""
    n = len(class_names)
    true = np.asarray(y_true, dtype=np.int64).reshape(-1)
    pred = np.asarray(y_pred_classes, dtype=np.int64).reshape(-1)
    confusion = np.zeros((n, n), dtype=np.int64)
    np.add.at(confusion, (true, pred), 1)
    precision, recall, f1, support = scores_from_confusion(confusion)
    width = max(12, *(len(str(c)) for c in class_names))
    lines = [f"{'':>{width}}  precision     recall   f1-score    support", ""]
    for i, name in enumerate(class_names):
        lines.append(f"{str(name):>{width}}  {precision[i]:9.4f}  {recall[i]:9.4f}  {f1[i]:9.4f}  {support[i]:9d}")
    total = int(support.sum())
    accuracy = np.trace(confusion) / total if total else 0.0
    lines += ["", f"{'accuracy':>{width}}  {'':9}  {'':9}  {accuracy:9.4f}  {total:9d}",
              f"{'macro avg':>{width}}  {precision.mean():9.4f}  {recall.mean():9.4f}  {f1.mean():9.4f}  {total:9d}"]
    return "\n".join(lines)


_NAMED = {
    "sparse_categorical_accuracy": SparseCategoricalAccuracy,
    "binary_accuracy": BinaryAccuracy,
    "masked_accuracy": MaskedTokenAccuracy,
    "precision": Precision,
    "recall": Recall,
    "f1": F1Score,
}
METRIC_NAMES = ("accuracy", "acc") + tuple(_NAMED) + ("macro_f1",)


def get(metric, loss=None) -> Metric:
    """A ``Metric`` from a name (see ``METRIC_NAMES``) or an instance. ``loss`` (a ``losses.Loss``)
    decides what ``"accuracy"`` means and the 0/1 threshold (0 for logits, 0.5 for probabilities)."""
    if isinstance(metric, Metric):
        return metric
    if not isinstance(metric, str):
        raise TypeError(f"compile: metrics must be names or Metric objects, got {type(metric).__name__}")
    threshold = 0.0 if getattr(loss, "from_logits", False) else 0.5
    if metric in ("accuracy", "acc"):
        if getattr(loss, "sparse", False):
            ignore = getattr(loss, "ignore_class", None)
            return _MeanOfMatches(metric, ignore_class=ignore)
        return BinaryAccuracy(metric, threshold=threshold)
    if metric == "macro_f1":
        return F1Score("macro_f1", threshold=threshold)
    if metric not in _NAMED:
        raise ValueError(f"compile: unknown metric {metric!r}; expected one of {', '.join(METRIC_NAMES)}")
    factory = _NAMED[metric]
    if factory in (SparseCategoricalAccuracy, MaskedTokenAccuracy):
        return factory(metric)
    return factory(metric, threshold=threshold)


def results(metrics: List[Metric]) -> Dict[str, float]:
    return {m.name: m.result() for m in metrics}


__all__ = ["BinaryAccuracy", "F1Score", "METRIC_NAMES", "MaskedTokenAccuracy", "Metric", "Precision", "Recall",
           "SparseCategoricalAccuracy", "classification_report", "get", "predicted_classes",
           "scores_from_confusion"]
