"""The parts of the training loop that need no model: metrics against hand-computed values (and
scikit-learn's definitions), callbacks' logic on a stand-in model, progress-bar formatting, CSV logging,
plot_history, and the name lookups' errors."""
import io
import math

import numpy as np
import pytest

from seqkernels import callbacks as cb
from seqkernels import losses, metrics


# ---- metrics ----------------------------------------------------------------------------------
def test_accuracy_follows_the_loss():
    sparse = metrics.get("accuracy", losses.SparseCategoricalCrossentropy(from_logits=True))
    sparse.update(np.array([0, 2, 1]), np.array([[3.0, 1, 0], [0, 0, 1], [5, 0, 0]]))
    assert sparse.result() == pytest.approx(2 / 3)
    binary_logits = metrics.get("accuracy", losses.BinaryCrossentropy(from_logits=True))
    binary_logits.update(np.array([1, 0, 1, 0]), np.array([[0.2], [-0.1], [-3.0], [0.4]]))  # threshold 0
    assert binary_logits.result() == pytest.approx(0.5)
    binary_probs = metrics.get("accuracy", losses.BinaryCrossentropy())
    binary_probs.update(np.array([1, 0]), np.array([0.4, 0.6]))  # threshold 0.5: both wrong
    assert binary_probs.result() == 0.0


def test_accuracy_accumulates_over_batches_and_resets():
    m = metrics.SparseCategoricalAccuracy()
    m.update(np.array([0]), np.array([[1.0, 0.0]]))
    m.update(np.array([0, 0, 0]), np.array([[0.0, 1.0]] * 3))
    assert m.result() == pytest.approx(0.25)
    m.reset()
    assert m.result() == 0.0


def test_masked_token_accuracy_ignores_padding():
    m = metrics.MaskedTokenAccuracy(ignore_class=-100)
    y_true = np.array([[1, 0, -100], [2, -100, -100]])
    logits = np.zeros((2, 3, 3))
    logits[0, 0, 1] = logits[0, 1, 2] = logits[1, 0, 2] = 1  # right, wrong, right
    logits[0, 2, 0] = logits[1, 1, 0] = logits[1, 2, 0] = 1  # padding: never counted
    m.update(y_true, logits)
    assert m.result() == pytest.approx(2 / 3)


def test_precision_recall_f1_macro_and_binary():
    y_true = np.array([0, 0, 1, 1, 2, 2, 2])
    pred = np.array([0, 1, 1, 1, 2, 0, 1])
    scores = np.eye(3)[pred]
    p, r, f = (metrics.get(name) for name in ("precision", "recall", "f1"))
    for m in (p, r, f):
        m.update(y_true[:3], scores[:3])
        m.update(y_true[3:], scores[3:])
    # per class: precision 1/2, 2/4, 1/1; recall 1/2, 2/2, 1/3
    precision = np.array([0.5, 0.5, 1.0])
    recall = np.array([0.5, 1.0, 1 / 3])
    assert p.result() == pytest.approx(precision.mean())
    assert r.result() == pytest.approx(recall.mean())
    assert f.result() == pytest.approx(np.mean(2 * precision * recall / (precision + recall)))
    binary = metrics.Precision()
    binary.update(np.array([1, 0, 1, 0]), np.array([0.9, 0.8, 0.1, 0.2]))  # TP 1, FP 1
    assert binary.result() == pytest.approx(0.5)
    recall_binary = metrics.Recall(threshold=0.0)
    recall_binary.update(np.array([1, 1, 1, 0]), np.array([[2.0], [-1.0], [0.5], [3.0]]))
    assert recall_binary.result() == pytest.approx(2 / 3)


def test_classification_report_rows():
    report = metrics.classification_report([0, 0, 1, 1], [0, 1, 1, 1], ["neg", "pos"])
    lines = report.splitlines()
    neg = next(l for l in lines if l.strip().startswith("neg")).split()
    assert [float(v) for v in neg[1:4]] == [1.0, 0.5, pytest.approx(0.6667, abs=1e-4)] and neg[4] == "2"
    assert "0.7500" in next(l for l in lines if "accuracy" in l)


def test_unknown_names_list_the_valid_ones():
    with pytest.raises(ValueError, match="unknown metric 'auc'.*accuracy.*masked_accuracy.*precision.*macro_f1"):
        metrics.get("auc")
    with pytest.raises(ValueError, match="unknown loss 'hinge'.*sparse_categorical_crossentropy.*mse"):
        losses.get("hinge")
    with pytest.raises(TypeError):
        losses.get(3)
    assert isinstance(losses.get("mse"), losses.MeanSquaredError)


def test_sparse_label_checks():
    loss = losses.SparseCategoricalCrossentropy(from_logits=True)
    loss.check_targets(np.array([0, 2, 1]), (3, 3))
    with pytest.raises(IndexError, match="label 3 is out of range for a model with 3 outputs"):
        loss.check_targets(np.array([0, 3]), (2, 3))
    with pytest.raises(IndexError, match="label -1"):
        loss.check_targets(np.array([-1]), (1, 3))
    losses.SparseCategoricalCrossentropy(ignore_class=-100).check_targets(np.array([[1, -100]]), (1, 2, 3))
    with pytest.raises(ValueError, match="do not match outputs"):
        loss.check_targets(np.array([[0, 1]]), (1, 3))
    with pytest.raises(TypeError, match="integer class ids"):
        loss.check_targets(np.array([0.5]), (1, 3))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 1\]"):
        losses.BinaryCrossentropy().check_targets(np.array([0, 2]), (2, 1))


# ---- callbacks on a stand-in model ----------------------------------------------------------------
class StandIn:
    """What callbacks touch on a model: state_dict / load_state_dict and stop_training."""

    def __init__(self):
        self.weight = np.zeros(2, dtype=np.float32)
        self.stop_training = False

    def state_dict(self):
        return {"weight": self.weight}

    def load_state_dict(self, state):
        self.weight = np.array(state["weight"])


def drive(callback, values, key="val_loss", model=None):
    """Runs callback over epochs whose logs hold ``key: value``; the model's weight records the epoch.
    Returns the epochs run before stop_training."""
    model = model or StandIn()
    callback.set_model(model)
    callback.set_params({"epochs": len(values), "steps": 1, "verbose": 0})
    callback.on_train_begin({})
    ran = []
    for epoch, value in enumerate(values):
        model.weight = np.full(2, epoch, dtype=np.float32)
        callback.on_epoch_end(epoch, {key: value})
        ran.append(epoch)
        if model.stop_training:
            break
    callback.on_train_end({})
    return ran, model


def test_early_stopping_patience_min_delta_and_restore():
    ran, model = drive(cb.EarlyStopping(patience=2), [1.0, 0.9, 0.95, 0.91, 0.5])
    assert ran == [0, 1, 2, 3] and model.weight[0] == 3  # no restore: last weights
    ran, model = drive(cb.EarlyStopping(patience=2, restore_best_weights=True), [1.0, 0.9, 0.95, 0.91, 0.5])
    assert ran == [0, 1, 2, 3] and model.weight[0] == 1  # best epoch's weights
    ran, _ = drive(cb.EarlyStopping(patience=1, min_delta=0.2), [1.0, 0.9, 0.5])  # 0.9 is no improvement
    assert ran == [0, 1]
    ran, _ = drive(cb.EarlyStopping(monitor="val_accuracy", patience=0), [0.5, 0.6, 0.6], key="val_accuracy")
    assert ran == [0, 1, 2]  # auto mode: accuracy is maximised; stops when it stalls
    ran, _ = drive(cb.EarlyStopping(patience=0), [1.0, 0.5, 0.25, 0.125])
    assert ran == [0, 1, 2, 3]
    with pytest.raises(ValueError, match="mode"):
        cb.EarlyStopping(mode="largest")
    with pytest.warns(RuntimeWarning, match="'val_f1' is not in the logs"):
        drive(cb.EarlyStopping(monitor="val_f1"), [1.0])


def test_model_checkpoint_best_only(tmp_path, monkeypatch):
    saved = []
    import seqkernels
    monkeypatch.setattr(seqkernels, "save", lambda state, path: saved.append((path, float(state["weight"][0]))),
                        raising=False)
    path = str(tmp_path / "ckpt-{epoch:02d}-{val_loss:.1f}.safetensors")
    drive(cb.ModelCheckpoint(path, save_best_only=True), [1.0, 2.0, 0.5])
    assert [(p.rsplit("/", 1)[1], w) for p, w in saved] == [("ckpt-01-1.0.safetensors", 0.0),
                                                            ("ckpt-03-0.5.safetensors", 2.0)]
    saved.clear()
    drive(cb.ModelCheckpoint(str(tmp_path / "every.safetensors")), [3.0, 4.0])
    assert len(saved) == 2


class StandInOptimizer:
    def __init__(self, lr):
        self.param_groups = [{"lr": lr}, {"lr": lr}]


def test_learning_rate_scheduler_sets_every_group_and_logs_it():
    model = StandIn()
    model._training_config = type("Config", (), {"optimizer": StandInOptimizer(0.1)})()
    sched = cb.LearningRateScheduler(lambda epoch, lr: lr * 0.5 if epoch else lr)
    sched.set_model(model)
    logs = {}
    for epoch in range(3):
        sched.on_epoch_begin(epoch, {})
        sched.on_epoch_end(epoch, logs)
    assert [g["lr"] for g in model._training_config.optimizer.param_groups] == [0.025, 0.025]
    assert logs["learning_rate"] == 0.025
    one_arg = cb.LearningRateScheduler(lambda epoch: 0.01 * (epoch + 1))
    one_arg.set_model(model)
    one_arg.on_epoch_begin(4, {})
    assert model._training_config.optimizer.param_groups[0]["lr"] == pytest.approx(0.05)
    bad = cb.LearningRateScheduler(lambda epoch, lr: float("nan"))
    bad.set_model(model)
    with pytest.raises(ValueError, match="finite number"):
        bad.on_epoch_begin(0, {})


def test_csv_logger_writes_and_appends(tmp_path):
    path = tmp_path / "log.csv"
    drive(cb.CSVLogger(path), [0.5, 0.25])
    assert path.read_text().splitlines() == ["epoch,val_loss", "0,0.5", "1,0.25"]
    drive(cb.CSVLogger(path, append=True), [0.125])
    assert path.read_text().splitlines()[-1] == "0,0.125" and path.read_text().count("epoch") == 1


def test_history_records_epochs():
    h = cb.History()
    h.on_epoch_end(0, {"loss": 1.0, "val_accuracy": 0.5})
    h.on_epoch_end(1, {"loss": 0.5, "val_accuracy": 0.75})
    assert h.history == {"loss": [1.0, 0.5], "val_accuracy": [0.5, 0.75]} and h.epoch == [0, 1]


# ---- progress bar ----------------------------------------------------------------------------------
def test_progbar_formats_like_keras():
    assert cb.format_duration(7.2) == "7s" and cb.format_duration(125) == "2:05"
    assert cb.format_duration(3723) == "1:02:03"
    assert cb.format_per_step(0.21) == "210ms/step" and cb.format_per_step(2e-5) == "20us/step"
    assert cb.format_logs({"loss": 0.693147, "acc": 0.5}) == " - loss: 0.6931 - acc: 0.5000"
    bar = cb.Progbar(56, dynamic=True, stream=io.StringIO(), interval=0.0)
    assert bar.bar(14) == "14/56 [======>.......................]"  # int(30*14/56) = 7 columns
    assert bar.bar(56) == "56/56 [==============================]"
    assert bar.bar(0) == " 0/56 [..............................]"


def test_progbar_terminal_redraws_and_plain_stream_prints_one_line():
    tty = io.StringIO()
    bar = cb.Progbar(3, dynamic=True, stream=tty, interval=0.0)
    bar.update(1, {"loss": 1.0})
    bar.update(2, {"loss": 0.5})
    bar.update(3, {"loss": 0.25}, finalize=True)
    out = tty.getvalue()
    assert out.count("\r") == 3 and "ETA:" in out and out.endswith("\n") and "loss: 0.2500" in out
    plain = io.StringIO()
    bar = cb.Progbar(3, dynamic=False, stream=plain)
    for step in (1, 2):
        bar.update(step, {"loss": 1.0})
    bar.update(3, {"loss": 0.25}, finalize=True, prefix="Epoch 1/2 - ")
    assert plain.getvalue().count("\n") == 1 and plain.getvalue().startswith("Epoch 1/2 - 3/3 - ")


def test_progbar_logger_one_line_per_epoch_off_a_terminal():
    stream = io.StringIO()
    logger = cb.ProgbarLogger(stream=stream)
    logger.set_params({"epochs": 2, "steps": 2, "verbose": 1})
    for epoch in range(2):
        logger.on_epoch_begin(epoch)
        for step in range(2):
            logger.on_train_batch_end(step, {"loss": 1.0})
        logger.on_epoch_end(epoch, {"loss": 1.0, "val_loss": 2.0})
    lines = stream.getvalue().splitlines()
    assert len(lines) == 2 and lines[1].startswith("Epoch 2/2 - 2/2 - ") and "val_loss: 2.0000" in lines[1]


def test_plot_history_writes_a_png(tmp_path):
    pytest.importorskip("matplotlib")
    h = cb.History()
    for epoch, (loss, acc) in enumerate([(1.0, 0.5), (0.6, 0.7), (0.4, 0.8)]):
        h.on_epoch_end(epoch, {"loss": loss, "accuracy": acc, "val_loss": loss + 0.1, "val_accuracy": acc - 0.1})
    path = cb.plot_history(h, tmp_path / "curves.png")
    assert open(path, "rb").read(8) == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(ValueError, match="no epochs"):
        cb.plot_history(cb.History(), tmp_path / "empty.png")


def test_plot_history_without_matplotlib_says_how_to_install(tmp_path, monkeypatch):
    import builtins
    real_import = builtins.__import__

    def no_matplotlib(name, *args, **kwargs):
        if name.startswith("matplotlib"):
            raise ImportError("No module named 'matplotlib'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_matplotlib)
    with pytest.raises(ImportError, match=r"seqkernels\[plot\]"):
        cb.plot_history({"loss": [1.0]}, tmp_path / "x.png")
