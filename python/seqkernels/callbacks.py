"""Keras-style callbacks for ``fit``: ``History``, ``EarlyStopping``, ``ModelCheckpoint``,
``LearningRateScheduler``, ``CSVLogger``, ``ProgbarLogger``, and ``plot_history``.

A callback sees ``self.model`` (the module being trained, whose ``stop_training`` it may set) and
``self.params`` (``epochs``, ``steps``, ``verbose``); fit calls ``on_train_begin/end(logs)``,
``on_epoch_begin/end(epoch, logs)`` and ``on_train_batch_begin/end(batch, logs)``, where ``logs``
maps names such as ``"loss"``, ``"accuracy"``, ``"val_loss"`` to floats.
"""
from __future__ import annotations

import copy
import csv
import math
import os
import sys
import time
from typing import Callable, Dict, List, Optional

import numpy as np


class Callback:
    """Base class: every hook does nothing. A callback that writes files sets ``writes_files``: in
    data-parallel training (``seqkernels.distributed``) only rank 0 runs it."""

    writes_files = False

    def __init__(self):
        self.model = None
        self.params: dict = {}

    def set_model(self, model) -> None:
        self.model = model

    def set_params(self, params: dict) -> None:
        self.params = params

    def on_train_begin(self, logs=None): pass
    def on_train_end(self, logs=None): pass
    def on_epoch_begin(self, epoch, logs=None): pass
    def on_epoch_end(self, epoch, logs=None): pass
    def on_train_batch_begin(self, batch, logs=None): pass
    def on_train_batch_end(self, batch, logs=None): pass


class History(Callback):
    """Records every epoch's logs: ``history.history["loss"]``, ``["val_accuracy"]``, ...;
    ``history.epoch`` lists the epoch numbers. ``stop_reason`` says why training ended early
    (interrupted, NaN loss), or is None."""

    def __init__(self):
        super().__init__()
        self.history: Dict[str, List[float]] = {}
        self.epoch: List[int] = []
        self.stop_reason: Optional[str] = None

    def on_epoch_end(self, epoch, logs=None):
        self.epoch.append(epoch)
        for key, value in (logs or {}).items():
            self.history.setdefault(key, []).append(value)


def _improvement_mode(monitor: str, mode: str) -> str:
    if mode not in ("auto", "min", "max"):
        raise ValueError(f"mode must be 'auto', 'min' or 'max', got {mode!r}")
    if mode != "auto":
        return mode
    higher_is_better = ("acc", "precision", "recall", "f1", "auc")
    return "max" if any(word in monitor for word in higher_is_better) else "min"


class _Monitor:
    """Tracks the best value of one logged quantity; ``min_delta`` is the least change that counts."""

    def __init__(self, monitor: str, mode: str, min_delta: float = 0.0, baseline: Optional[float] = None):
        self.monitor = monitor
        self.mode = _improvement_mode(monitor, mode)
        self.min_delta = abs(min_delta)
        self.best = baseline if baseline is not None else (math.inf if self.mode == "min" else -math.inf)

    def value(self, logs, who: str) -> Optional[float]:
        value = (logs or {}).get(self.monitor)
        if value is None:
            import warnings
            warnings.warn(f"{who}: the monitored quantity {self.monitor!r} is not in the logs "
                          f"(available: {', '.join(sorted(logs or {}))}); skipping", RuntimeWarning, stacklevel=3)
        return value

    def improves(self, value: float) -> bool:
        if self.mode == "min":
            return value < self.best - self.min_delta
        return value > self.best + self.min_delta


class EarlyStopping(Callback):
    """Stops training when ``monitor`` has not improved by more than ``min_delta`` for ``patience``
    epochs; with ``restore_best_weights`` the model ends with the weights of its best epoch."""

    def __init__(self, monitor: str = "val_loss", min_delta: float = 0.0, patience: int = 0, verbose: int = 0,
                 mode: str = "auto", baseline: Optional[float] = None, restore_best_weights: bool = False,
                 start_from_epoch: int = 0):
        super().__init__()
        self.monitor = monitor
        self.min_delta = min_delta
        self.patience = patience
        self.verbose = verbose
        self.mode = mode
        self.baseline = baseline
        self.restore_best_weights = restore_best_weights
        self.start_from_epoch = start_from_epoch
        _improvement_mode(monitor, mode)  # validates mode now

    def on_train_begin(self, logs=None):
        self.tracker = _Monitor(self.monitor, self.mode, self.min_delta, self.baseline)
        self.wait = 0
        self.stopped_epoch = 0
        self.best_epoch = 0
        self.best_weights = None

    def on_epoch_end(self, epoch, logs=None):
        value = self.tracker.value(logs, "EarlyStopping")
        if value is None or epoch < self.start_from_epoch:
            return
        self.wait += 1
        improved = self.tracker.improves(value)
        if improved:
            self.tracker.best = value
            self.best_epoch = epoch
            self.wait = 0
        # the best epoch's weights; the first monitored epoch's when none improves (as Keras)
        if self.restore_best_weights and (improved or self.best_weights is None):
            self.best_weights = copy.deepcopy(self.model.state_dict())
        if improved:
            return
        if self.wait >= self.patience and epoch > 0:
            self.stopped_epoch = epoch
            self.model.stop_training = True

    def on_train_end(self, logs=None):
        if self.stopped_epoch and self.verbose:
            print(f"Epoch {self.stopped_epoch + 1}: early stopping")
        if self.restore_best_weights and self.best_weights is not None:
            if self.verbose:
                print(f"Restoring model weights from the end of the best epoch: {self.best_epoch + 1}.")
            self.model.load_state_dict(self.best_weights)


class ModelCheckpoint(Callback):
    """Saves ``model.state_dict()`` with ``seqkernels.save`` (safetensors, atomic: a crash mid-write
    leaves the previous file intact) after every epoch, or only when ``monitor`` improves with
    ``save_best_only``. ``filepath`` may hold ``{epoch}`` and log keys:
    ``"ckpt-{epoch:02d}-{val_loss:.3f}.safetensors"``."""

    writes_files = True

    def __init__(self, filepath: str, monitor: str = "val_loss", verbose: int = 0, save_best_only: bool = False,
                 mode: str = "auto"):
        super().__init__()
        self.filepath = os.fspath(filepath)
        self.monitor = monitor
        self.verbose = verbose
        self.save_best_only = save_best_only
        self.tracker = _Monitor(monitor, mode)

    def on_epoch_end(self, epoch, logs=None):
        from . import save

        logs = logs or {}
        path = self.filepath.format(epoch=epoch + 1, **logs)
        if self.save_best_only:
            value = self.tracker.value(logs, "ModelCheckpoint")
            if value is None or not self.tracker.improves(value):
                return
            if self.verbose:
                print(f"Epoch {epoch + 1}: {self.monitor} improved from {self.tracker.best:.5f} to {value:.5f}, "
                      f"saving model to {path}")
            self.tracker.best = value
        elif self.verbose:
            print(f"Epoch {epoch + 1}: saving model to {path}")
        directory = os.path.dirname(path)
        if directory:
            os.makedirs(directory, exist_ok=True)
        save(self.model.state_dict(), path)


def get_learning_rate(optimizer) -> float:
    return float(optimizer.param_groups[0]["lr"])


def set_learning_rate(optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = float(lr)


class LearningRateScheduler(Callback):
    """Sets the optimizer's learning rate at the start of each epoch to ``schedule(epoch, lr)``
    (``schedule(epoch)`` also accepted, as Keras); the rate used is logged as ``"learning_rate"``."""

    def __init__(self, schedule: Callable, verbose: int = 0):
        super().__init__()
        self.schedule = schedule
        self.verbose = verbose

    def on_epoch_begin(self, epoch, logs=None):
        optimizer = self.model._training_config.optimizer
        try:
            lr = self.schedule(epoch, get_learning_rate(optimizer))
        except TypeError:
            lr = self.schedule(epoch)
        if not isinstance(lr, (float, int, np.floating, np.integer)) or not math.isfinite(lr):
            raise ValueError(f"LearningRateScheduler: schedule must return a finite number, got {lr!r}")
        set_learning_rate(optimizer, lr)
        if self.verbose:
            print(f"Epoch {epoch + 1}: LearningRateScheduler setting learning rate to {lr}.")

    def on_epoch_end(self, epoch, logs=None):
        if logs is not None:
            logs["learning_rate"] = get_learning_rate(self.model._training_config.optimizer)


class CSVLogger(Callback):
    """Streams each epoch's logs to a CSV file (``epoch`` first, then the keys in sorted order)."""

    writes_files = True

    def __init__(self, filename: str, separator: str = ",", append: bool = False):
        super().__init__()
        self.filename = os.fspath(filename)
        self.separator = separator
        self.append = append
        self.keys = None
        self.file = None

    def on_train_begin(self, logs=None):
        existing = self.append and os.path.exists(self.filename) and os.path.getsize(self.filename) > 0
        self.file = open(self.filename, "a" if self.append else "w", newline="")
        self.keys = None
        self.header_written = existing

    def on_epoch_end(self, epoch, logs=None):
        logs = logs or {}
        if self.keys is None:
            self.keys = sorted(logs)
            self.writer = csv.DictWriter(self.file, fieldnames=["epoch"] + self.keys, delimiter=self.separator)
            if not self.header_written:
                self.writer.writeheader()
        self.writer.writerow({"epoch": epoch, **{k: logs.get(k, "NA") for k in self.keys}})
        self.file.flush()

    def on_train_end(self, logs=None):
        if self.file is not None:
            self.file.close()
            self.file = None


def format_duration(seconds: float) -> str:
    """Keras's ETA style: ``1:02:03``, ``2:05``, ``7s``."""
    seconds = int(round(seconds))
    if seconds >= 3600:
        return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"
    if seconds >= 60:
        return f"{seconds // 60}:{seconds % 60:02d}"
    return f"{seconds}s"


def format_logs(logs: Dict[str, float]) -> str:
    return "".join(f" - {k}: {v:.4f}" if abs(v) >= 1e-3 or v == 0 else f" - {k}: {v:.4e}"
                   for k, v in logs.items() if isinstance(v, (float, int, np.floating)))


def format_per_step(seconds_per_step: float) -> str:
    if seconds_per_step >= 1:
        return f"{seconds_per_step:.0f}s/step"
    if seconds_per_step >= 1e-3:
        return f"{seconds_per_step * 1e3:.0f}ms/step"
    return f"{seconds_per_step * 1e6:.0f}us/step"


class Progbar:
    """Keras's progress bar: ``12/56 [=====>........................] - ETA: 3s - loss: 0.6821``,
    redrawn in place on a terminal; ``dynamic=False`` writes only the final line of each epoch."""

    def __init__(self, target: int, width: int = 30, dynamic: Optional[bool] = None, stream=None,
                 interval: float = 0.05):
        self.target = target
        self.width = width
        self.stream = stream or sys.stdout
        self.dynamic = (hasattr(self.stream, "isatty") and self.stream.isatty()) if dynamic is None else dynamic
        self.interval = interval
        self.start = time.perf_counter()
        self.last_draw = 0.0
        self.drawn_width = 0

    def bar(self, current: int) -> str:
        digits = len(str(self.target))
        filled = int(self.width * current / self.target) if self.target else self.width
        arrow = "=" * max(filled - 1, 0) + (">" if current < self.target else "=") if filled else ""
        return f"{current:>{digits}}/{self.target} [{arrow}{'.' * (self.width - len(arrow))}]"

    def update(self, current: int, logs: Dict[str, float], finalize: bool = False, prefix: str = "") -> None:
        now = time.perf_counter()
        elapsed = now - self.start
        if finalize:
            per_step = elapsed / max(current, 1)
            text = f"{self.bar(current)} - {format_duration(elapsed)} {format_per_step(per_step)}{format_logs(logs)}"
            if not self.dynamic:
                text = f"{prefix}{current}/{self.target} - {format_duration(elapsed)} " \
                       f"{format_per_step(per_step)}{format_logs(logs)}"
            self._write(text, end="\n")
            return
        if not self.dynamic or now - self.last_draw < self.interval:
            return
        self.last_draw = now
        eta = elapsed / max(current, 1) * (self.target - current)
        self._write(f"{self.bar(current)} - ETA: {format_duration(eta)}{format_logs(logs)}", end="")

    def _write(self, text: str, end: str) -> None:
        if self.dynamic:
            pad = max(self.drawn_width - len(text), 0)
            self.stream.write("\r" + text + " " * pad + end)
            self.drawn_width = 0 if end else len(text)
        else:
            self.stream.write(text + end)
        self.stream.flush()


class ProgbarLogger(Callback):
    """Prints ``Epoch i/n`` and a progress bar per epoch (verbose=1 on a terminal), or one line per
    epoch (verbose=2, or verbose=1 when output is not a terminal). fit adds one when verbose > 0."""

    def __init__(self, stream=None):
        super().__init__()
        self.stream = stream

    def on_epoch_begin(self, epoch, logs=None):
        stream = self.stream or sys.stdout
        dynamic = self.params.get("verbose") == 1 and hasattr(stream, "isatty") and stream.isatty()
        self.progbar = Progbar(self.params["steps"], dynamic=dynamic, stream=stream)
        self.prefix = f"Epoch {epoch + 1}/{self.params['epochs']} - "
        if dynamic:
            stream.write(f"Epoch {epoch + 1}/{self.params['epochs']}\n")

    def on_train_batch_end(self, batch, logs=None):
        self.seen = batch + 1
        self.progbar.update(batch + 1, logs or {})

    def on_epoch_end(self, epoch, logs=None):
        self.progbar.update(getattr(self, "seen", self.params["steps"]), logs or {}, finalize=True,
                            prefix=self.prefix)
        self.seen = self.params["steps"]


class CallbackList:
    """Dispatches each hook to every callback in order."""

    def __init__(self, callbacks, model, params):
        self.callbacks = list(callbacks)
        for cb in self.callbacks:
            if not isinstance(cb, Callback):
                raise TypeError(f"fit: callbacks must be Callback objects, got {type(cb).__name__}")
            cb.set_model(model)
            cb.set_params(params)

    def __getattr__(self, hook):
        if not hook.startswith("on_"):
            raise AttributeError(hook)

        def dispatch(*args):
            for cb in self.callbacks:
                getattr(cb, hook)(*args)
        return dispatch


def plot_history(history, path, metrics: Optional[List[str]] = None) -> str:
    """Writes a PNG of the training curves: one panel per quantity (loss first), training and
    validation (``val_``) side by side. Needs matplotlib (``pip install "seqkernels[plot]"``)."""
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from matplotlib.ticker import MaxNLocator
    except ImportError as exc:
        raise ImportError('plot_history needs matplotlib: pip install "seqkernels[plot]" '
                          "(or pip install matplotlib)") from exc
    logs = history.history if isinstance(history, History) else dict(history)
    names = metrics or [k for k in logs if not k.startswith("val_") and k != "learning_rate"]
    if not names:
        raise ValueError("plot_history: the history holds no epochs to plot")
    fig, axes = plt.subplots(1, len(names), figsize=(4.5 * len(names), 3.6), squeeze=False)
    for ax, name in zip(axes[0], names):
        for key, label in ((name, "train"), ("val_" + name, "validation")):
            if key in logs:
                values = logs[key]
                ax.plot(range(1, len(values) + 1), values, marker="o", label=label)
        ax.set_title(name)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend()
    fig.tight_layout()
    path = os.fspath(path)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


__all__ = ["CSVLogger", "Callback", "CallbackList", "EarlyStopping", "History", "LearningRateScheduler",
           "ModelCheckpoint", "Progbar", "ProgbarLogger", "plot_history"]
