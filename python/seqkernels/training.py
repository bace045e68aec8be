"""Keras's training loop for any ``nn.Module``: ``compile``, ``fit``, ``evaluate``, ``predict``.

``Module.compile/fit/evaluate/predict`` call these with the module as first argument. ``x`` is an
array or a list of arrays (several inputs, as ``[input_ids, attention_mask]``: the model is called as
``model(*inputs)``); ``y`` an array with one entry per sample. The model returns a Tensor (or an object
with ``.logits``, or a tuple whose first item is the output).

Training stops early, keeping the model and the history so far, when a callback sets
``model.stop_training``, on Ctrl-C (after the current step; a second Ctrl-C aborts at once), and on a
NaN or infinite loss (before that step's update, with a message naming the epoch and step).
"""
from __future__ import annotations

import math
import signal
import sys
import threading
from dataclasses import dataclass, field
from typing import List, Optional, Sequence

import numpy as np

from . import callbacks as callbacks_module
from . import distributed
from . import losses as losses_module
from . import metrics as metrics_module
from .autograd import no_grad
from .callbacks import History, plot_history
from .random import generator
from .tensor import Tensor, tensor

# name -> (class name in seqkernels.optim, Keras's default learning rate)
OPTIMIZERS = {"adam": ("Adam", 1e-3), "adamw": ("AdamW", 1e-3), "sgd": ("SGD", 1e-2)}


@dataclass
class TrainingConfig:
    optimizer: object
    loss: losses_module.Loss
    metrics: List[metrics_module.Metric] = field(default_factory=list)


def _make_optimizer(model, optimizer):
    if isinstance(optimizer, str):
        key = optimizer.lower()
        if key not in OPTIMIZERS:
            raise ValueError(f"compile: unknown optimizer {optimizer!r}; expected one of {', '.join(OPTIMIZERS)} "
                             "or an optimizer object")
        from . import optim

        class_name, lr = OPTIMIZERS[key]
        return getattr(optim, class_name)(model.parameters(), lr=lr)
    for method in ("step", "zero_grad"):
        if not callable(getattr(optimizer, method, None)):
            raise TypeError(f"compile: optimizer must be a name or an optimizer with step() and zero_grad(), "
                            f"got {type(optimizer).__name__}")
    if getattr(optimizer, "param_groups", None) == [] and callable(getattr(optimizer, "bind", None)):
        optimizer.bind(model.parameters())  # Keras style: Adam(1e-3) made before the model's parameters
    return optimizer


def compile(model, optimizer="adam", loss=None, metrics: Optional[Sequence] = None):
    """Configures ``model`` for training: ``optimizer`` a name (``"adam"``, ``"adamw"``, ``"sgd"``,
    with Keras's default learning rates) or a ``seqkernels.optim`` optimizer; ``loss`` a name
    (``"sparse_categorical_crossentropy"``, ``"binary_crossentropy"``, ``"mse"``), a ``Loss`` object or a
    callable ``fn(y_pred, y_true)``; ``metrics`` names (``"accuracy"``, ``"precision"``, ``"recall"``,
    ``"f1"``, ``"masked_accuracy"``, ...) or ``Metric`` objects."""
    if loss is None:
        raise ValueError("compile: a loss is required, e.g. loss='sparse_categorical_crossentropy'")
    loss_obj = losses_module.get(loss)
    if isinstance(metrics, (str, metrics_module.Metric)):
        metrics = [metrics]
    metric_objs = [metrics_module.get(m, loss_obj) for m in (metrics or [])]
    names = [m.name for m in metric_objs]
    if len(set(names)) != len(names) or "loss" in names:
        raise ValueError(f"compile: metric names must be distinct and not 'loss', got {names}")
    model._training_config = TrainingConfig(_make_optimizer(model, optimizer), loss_obj, metric_objs)
    model.stop_training = False


def _config(model, caller: str) -> TrainingConfig:
    config = getattr(model, "_training_config", None)
    if config is None:
        raise RuntimeError(f"{caller}: call model.compile(optimizer=..., loss=...) first")
    return config


def _as_inputs(x, name: str) -> List[np.ndarray]:
    """The list of input arrays, all with the same number of samples."""
    items = list(x) if isinstance(x, (list, tuple)) else [x]
    if not items:
        raise ValueError(f"{name}: expected an array or a non-empty list of arrays, got an empty list")
    arrays = [np.asarray(a.data if isinstance(a, Tensor) else a) for a in items]
    for i, a in enumerate(arrays):
        if a.ndim == 0:
            raise ValueError(f"{name}[{i}]: expected an array with a sample axis, got a scalar")
        if a.dtype.kind not in "fiub":
            raise TypeError(f"{name}[{i}]: expected numeric arrays, got dtype {a.dtype}")
    lengths = {len(a) for a in arrays}
    if len(lengths) > 1:
        raise ValueError(f"{name}: all inputs must have the same number of samples, got {[len(a) for a in arrays]}")
    return arrays


def _as_targets(y, samples: int, name: str) -> np.ndarray:
    y = np.asarray(y.data if isinstance(y, Tensor) else y)
    if y.ndim == 0 or len(y) != samples:
        raise ValueError(f"{name}: x has {samples} samples but y has "
                         f"{'a scalar' if y.ndim == 0 else len(y)}; they must match")
    return y


def _check_batch_size(batch_size, caller: str) -> int:
    if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"{caller}: batch_size must be an int >= 1, got {batch_size!r}")
    return int(batch_size)


def _output(result) -> Tensor:
    if isinstance(result, Tensor):
        return result
    if hasattr(result, "logits"):
        return result.logits
    if isinstance(result, (tuple, list)) and result and isinstance(result[0], Tensor):
        return result[0]
    raise TypeError(f"the model must return a Tensor (or an object with .logits), got {type(result).__name__}")


def _forward(model, inputs: List[np.ndarray], idx) -> Tensor:
    return _output(model(*[tensor(a[idx]) for a in inputs]))


def _sample_weights(class_weight, y: np.ndarray) -> Optional[np.ndarray]:
    if class_weight is None:
        return None
    if not isinstance(class_weight, dict):
        raise TypeError(f"fit: class_weight must be a dict {{class: weight}}, got {type(class_weight).__name__}")
    labels = np.asarray(y).reshape(len(y), -1)
    if labels.shape[1] != 1:
        raise ValueError("fit: class_weight needs one label per sample; pass sample weights via a Loss instead")
    labels = labels[:, 0].astype(np.int64)
    missing = sorted(set(np.unique(labels).tolist()) - set(int(k) for k in class_weight))
    if missing:
        raise ValueError(f"fit: class_weight has no weight for classes {missing} present in y")
    lookup = {int(k): float(v) for k, v in class_weight.items()}
    return np.array([lookup[c] for c in labels], dtype=np.float32)


class _StopTraining(Exception):
    """Raised inside the loop to end training early with a reason."""


class _InterruptAfterStep:
    """While active (main thread only), a first Ctrl-C sets ``requested``; a second one raises
    KeyboardInterrupt at once."""

    def __init__(self):
        self.requested = False
        self.previous = None

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            self.previous = signal.signal(signal.SIGINT, self._handle)
        return self

    def _handle(self, signum, frame):
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True

    def __exit__(self, *exc):
        if self.previous is not None:
            signal.signal(signal.SIGINT, self.previous)
        return False


def _batches(samples: int, batch_size: int, order: np.ndarray):
    return [order[i:i + batch_size] for i in range(0, samples, batch_size)]


def fit(model, x, y, batch_size: int = 32, epochs: int = 1, validation_data=None, validation_split: float = 0.0,
        shuffle: bool = True, callbacks=None, verbose=1, class_weight=None, initial_epoch: int = 0):
    """Trains ``model`` for ``epochs`` epochs of mini-batches; returns a ``History``.

    ``validation_data`` is ``(x_val, y_val)``; otherwise ``validation_split`` holds out that fraction
    of the samples, taken from the end before shuffling (as Keras). ``class_weight`` maps class ids
    to loss weights. ``verbose``: 0 silent, 1 progress bar (one line per epoch when stdout is not a
    terminal), 2 one line per epoch."""
    config = _config(model, "fit")
    batch_size = _check_batch_size(batch_size, "fit")
    for name, value in (("epochs", epochs), ("initial_epoch", initial_epoch)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 0:
            raise ValueError(f"fit: {name} must be an int >= 0, got {value!r}")
    if verbose not in (0, 1, 2, "auto"):
        raise ValueError(f"fit: verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
    verbose = 1 if verbose == "auto" else verbose
    xs = _as_inputs(x, "fit: x")
    samples = len(xs[0])
    y = _as_targets(y, samples, "fit")
    if validation_data is not None:
        if not isinstance(validation_data, (tuple, list)) or len(validation_data) != 2:
            raise ValueError("fit: validation_data must be a tuple (x_val, y_val)")
        val_x = _as_inputs(validation_data[0], "fit: validation_data x")
        val_y = _as_targets(validation_data[1], len(val_x[0]), "fit: validation_data")
    elif validation_split:
        if not 0.0 < validation_split < 1.0:
            raise ValueError(f"fit: validation_split must be in [0, 1), got {validation_split}")
        split = int(samples * (1.0 - validation_split))
        val_x, val_y = [a[split:] for a in xs], y[split:]
        xs, y, samples = [a[:split] for a in xs], y[:split], split
    else:
        val_x = val_y = None
    if samples == 0:
        raise ValueError("fit: x holds no samples (nothing to train on)")
    if val_y is not None and len(val_y) == 0:
        raise ValueError("fit: the validation data holds no samples")
    sample_weight = _sample_weights(class_weight, y)

    history = History()
    parallel = distributed.data_parallel()
    global_batch = batch_size * (parallel.world_size if parallel else 1)
    if parallel:
        parallel.broadcast_parameters(model.parameters())
        verbose = verbose if parallel.is_main else 0
    steps = math.ceil(samples / global_batch)
    params = {"epochs": epochs, "steps": steps, "verbose": verbose, "samples": samples}
    user_callbacks = [c for c in (callbacks or [])
                      if parallel is None or parallel.is_main or not getattr(c, "writes_files", False)]
    defaults = [history] + ([callbacks_module.ProgbarLogger()] if verbose else [])
    cbs = callbacks_module.CallbackList(user_callbacks + defaults, model, params)
    model.history = history
    model.stop_training = False
    rng = generator()
    if parallel:  # one shuffled order on every rank: rank 0's generator state everywhere
        rng.bit_generator.state = parallel.comm.bcast(rng.bit_generator.state, root=0)
    targets_checked = False
    epoch, step, epoch_logs = initial_epoch, 0, {}
    cbs.on_train_begin({})
    with _InterruptAfterStep() as interrupt:
        try:
            for epoch in range(initial_epoch, epochs):
                cbs.on_epoch_begin(epoch, {})
                model.train()
                for m in config.metrics:
                    m.reset()
                loss_sum, seen, epoch_logs = 0.0, 0, {}
                order = rng.permutation(samples) if shuffle else np.arange(samples)
                for step, batch in enumerate(_batches(samples, global_batch, order)):
                    cbs.on_train_batch_begin(step, {})
                    idx = parallel.local_slice(batch) if parallel else batch
                    out = loss = None
                    value = 0.0
                    if len(idx):
                        out = _forward(model, xs, idx)
                        if not targets_checked:
                            for targets in (y, val_y):
                                if targets is not None:
                                    config.loss.check_targets(targets, (len(targets),) + tuple(out.shape[1:]))
                            targets_checked = True
                        loss = config.loss(out, y[idx], None if sample_weight is None else sample_weight[idx])
                        penalty = model.regularization_loss() if hasattr(model, "regularization_loss") else None
                        if penalty is not None:  # Keras: weight regularizers add to the training loss
                            loss = loss + penalty
                        value = float(loss.item())
                    batch_loss, batch_seen = value * len(idx), len(idx)
                    if parallel:  # one collective call: the global batch's loss, and whether a rank stopped
                        batch_loss, batch_seen, interrupted, stopped = parallel.sum(
                            batch_loss, batch_seen, interrupt.requested, model.stop_training)
                        if interrupted:
                            raise KeyboardInterrupt
                        if stopped:
                            model.stop_training = True
                            break
                    if not math.isfinite(batch_loss):
                        raise _StopTraining(f"loss is {batch_loss / batch_seen} at epoch {epoch + 1}, step "
                                            f"{step + 1}/{steps} (that step's update was skipped; try a lower "
                                            "learning rate)")
                    config.optimizer.zero_grad()
                    if loss is not None:
                        loss.backward()
                    if parallel:
                        parallel.average_gradients(model.parameters(), len(idx), len(batch))
                    config.optimizer.step()
                    loss_sum += batch_loss
                    seen += batch_seen
                    if out is not None:
                        for m in config.metrics:
                            m.update(y[idx], out.data)
                    epoch_logs = {"loss": loss_sum / seen, **metrics_module.results(config.metrics)}
                    cbs.on_train_batch_end(step, dict(epoch_logs))
                    if parallel:
                        continue  # a stop requested here is agreed on at the next step's collective call
                    if interrupt.requested:
                        raise KeyboardInterrupt
                    if model.stop_training:
                        break
                if val_y is not None:
                    val_logs = evaluate(model, val_x, val_y, batch_size=batch_size, verbose=0, return_dict=True)
                    epoch_logs.update({"val_" + k: v for k, v in val_logs.items()})
                cbs.on_epoch_end(epoch, epoch_logs)
                if parallel:
                    model.stop_training = parallel.sum(model.stop_training)[0] > 0
                if model.stop_training:
                    break
        except KeyboardInterrupt:
            history.stop_reason = f"interrupted at epoch {epoch + 1}, step {step + 1}/{steps}"
            _end_partial_epoch(history, epoch, epoch_logs, verbose)
        except _StopTraining as stop:
            history.stop_reason = str(stop)
            _end_partial_epoch(history, epoch, epoch_logs, verbose)
    cbs.on_train_end({})
    return history


def _end_partial_epoch(history, epoch: int, logs: dict, verbose) -> None:
    """Keeps the interrupted epoch's training logs in the history and says why training stopped."""
    if logs and (not history.epoch or history.epoch[-1] != epoch):
        history.on_epoch_end(epoch, dict(logs))
    print(f"\nTraining stopped: {history.stop_reason}. The model and the history so far are kept.",
          file=sys.stderr)


def _progbar(steps: int, verbose) -> Optional[callbacks_module.Progbar]:
    if verbose not in (0, 1, 2, "auto"):
        raise ValueError(f"verbose must be 0, 1, 2 or 'auto', got {verbose!r}")
    if not verbose:
        return None
    return callbacks_module.Progbar(steps, dynamic=None if verbose in (1, "auto") else False)


def _run_inference(model, xs: List[np.ndarray], batch_size: int, verbose, consume) -> None:
    """Runs the model in eval mode, with no graph, over batches in order; ``consume(idx, output)``
    sees each batch's output. The model's train/eval mode is restored afterwards."""
    samples = len(xs[0])
    batches = _batches(samples, batch_size, np.arange(samples))
    bar = _progbar(len(batches), verbose)
    was_training = getattr(model, "training", False)
    model.eval()
    try:
        with no_grad():
            for step, idx in enumerate(batches):
                logs = consume(idx, _forward(model, xs, idx))
                if bar is not None:
                    bar.update(step + 1, logs or {}, finalize=step + 1 == len(batches))
    finally:
        model.train(was_training)


def evaluate(model, x, y, batch_size: int = 32, verbose=1, return_dict: bool = False):
    """The loss and metrics over ``(x, y)``: a float (no metrics), ``[loss, metric, ...]``, or with
    ``return_dict`` a dict ``{"loss": ..., name: ...}``. Eval mode, no graph recorded."""
    config = _config(model, "evaluate")
    batch_size = _check_batch_size(batch_size, "evaluate")
    xs = _as_inputs(x, "evaluate: x")
    y = _as_targets(y, len(xs[0]), "evaluate")
    if len(y) == 0:
        raise ValueError("evaluate: x holds no samples")
    for m in config.metrics:
        m.reset()
    totals = {"loss": 0.0, "seen": 0}

    def consume(idx, out):
        if totals["seen"] == 0:
            config.loss.check_targets(y, (len(y),) + tuple(out.shape[1:]))
        totals["loss"] += float(config.loss(out, y[idx]).item()) * len(idx)
        totals["seen"] += len(idx)
        for m in config.metrics:
            m.update(y[idx], out.data)
        return {"loss": totals["loss"] / totals["seen"], **metrics_module.results(config.metrics)}

    _run_inference(model, xs, batch_size, verbose, consume)
    logs = {"loss": totals["loss"] / totals["seen"], **metrics_module.results(config.metrics)}
    if return_dict:
        return logs
    return logs["loss"] if len(logs) == 1 else list(logs.values())


def predict(model, x, batch_size: int = 32, verbose=1) -> np.ndarray:
    """The model's outputs for every sample of ``x`` as one numpy array (eval mode, no graph)."""
    batch_size = _check_batch_size(batch_size, "predict")
    xs = _as_inputs(x, "predict: x")
    if len(xs[0]) == 0:
        raise ValueError("predict: x holds no samples")
    outputs = []
    _run_inference(model, xs, batch_size, verbose, lambda idx, out: outputs.append(np.array(out.data)))
    return np.concatenate(outputs, axis=0)


__all__ = ["History", "OPTIMIZERS", "TrainingConfig", "compile", "evaluate", "fit", "plot_history", "predict"]
