"""compile / fit / evaluate / predict end to end on small data: the Keras seed flow (tokenize -> pad ->
build -> compile -> fit with validation_data -> evaluate -> predict -> argmax) reaching an accuracy far
above chance, several inputs, every callback inside fit, Ctrl-C, NaN, class weights, and bad input."""
import math

import numpy as np
import pytest

import seqkernels as sk
from seqkernels import callbacks as cb
from seqkernels import nn, optim, training
from seqkernels.autograd import is_grad_enabled
from seqkernels.losses import BinaryCrossentropy, MeanSquaredError, SparseCategoricalCrossentropy
from seqkernels.preprocessing.sequence import pad_sequences
from seqkernels.preprocessing.text import Tokenizer

TOPICS = {
    "sport": "match goal team coach league score player season win cup",
    "tech": "software chip phone internet computer data network app code device",
    "food": "recipe chef bake flavour sauce kitchen dinner taste spice meal",
}
FILLER = "the a of and to in is it that for on with as was at by this from".split()


def topic_texts(n, seed):
    """n short texts; each mixes 3-6 words of its topic with filler words, so only the topic words tell."""
    rng = np.random.default_rng(seed)
    names = sorted(TOPICS)
    texts, labels = [], []
    for i in range(n):
        label = i % len(names)
        words = list(rng.choice(TOPICS[names[label]].split(), size=rng.integers(3, 7)))
        words += list(rng.choice(FILLER, size=rng.integers(4, 10)))
        rng.shuffle(words)
        texts.append(" ".join(words))
        labels.append(label)
    return texts, np.array(labels)


class MeanEmbeddingClassifier(nn.Module):
    """Embedding rows averaged over the real (mask = 1) tokens, then a linear layer to class logits;
    called with ids, or with ids and a mask (two inputs). Optional dropout shows train/eval modes."""

    def __init__(self, vocab, classes, dim=16, dropout=0.0):
        super().__init__()
        rng = np.random.default_rng(0)
        self.table = nn.Parameter(rng.normal(0, 0.3, (vocab, dim)).astype(np.float32))
        self.head = nn.Linear(dim, classes)
        self.dropout = nn.Dropout(dropout)
        self.forward_grad_modes = []

    def forward(self, ids, mask=None):
        self.forward_grad_modes.append(is_grad_enabled())
        if mask is None:
            mask = sk.tensor((ids.numpy() != 0).astype(np.float32))
        else:
            mask = sk.tensor(mask.numpy().astype(np.float32))
        vectors = self.table[ids.numpy()]                                   # (N, L, dim)
        summed = (vectors * mask.unsqueeze(-1)).sum(dim=1)
        pooled = summed / (mask.sum(dim=1, keepdim=True) + 1e-6)
        return self.head(self.dropout(pooled))


@pytest.fixture(scope="module")
def topic_data():
    texts, labels = topic_texts(240, seed=1)
    tokenizer = Tokenizer(num_words=60, oov_token="<unk>")
    tokenizer.fit_on_texts(texts[:180])
    ids = pad_sequences(tokenizer.texts_to_sequences(texts), maxlen=12, padding="post")
    return ids[:180], labels[:180], ids[180:], labels[180:]


def compiled(model, lr=0.05, loss=None, metrics=("accuracy",)):
    model.compile(optimizer=optim.Adam(model.parameters(), lr=lr),
                  loss=loss or SparseCategoricalCrossentropy(from_logits=True), metrics=list(metrics))
    return model


def test_seed_flow_learns_far_above_chance(topic_data):
    x, y, x_val, y_val = topic_data
    sk.manual_seed(0)
    model = compiled(MeanEmbeddingClassifier(60, 3, dropout=0.1))
    history = model.fit(x, y, validation_data=(x_val, y_val), batch_size=16, epochs=8, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "val_loss", "val_accuracy"}
    assert history.epoch == list(range(8)) and all(len(v) == 8 for v in history.history.values())
    assert history.history["loss"][-1] < history.history["loss"][0]
    loss, accuracy = model.evaluate(x_val, y_val, verbose=0)
    assert accuracy > 0.85  # chance is 1/3; the topic words separate the classes
    assert accuracy == pytest.approx(history.history["val_accuracy"][-1])
    probs = model.predict(x_val, batch_size=7, verbose=0)
    assert probs.shape == (60, 3)
    assert np.mean(probs.argmax(axis=-1) == y_val) == pytest.approx(accuracy)
    assert model.evaluate(x_val, y_val, verbose=0, return_dict=True) == {"loss": loss, "accuracy": accuracy}


def test_evaluate_and_predict_run_in_eval_mode_without_a_graph(topic_data):
    x, y, _, _ = topic_data
    model = compiled(MeanEmbeddingClassifier(60, 3, dropout=0.5))
    model.forward_grad_modes.clear()
    first, second = model.predict(x, verbose=0), model.predict(x, verbose=0)
    np.testing.assert_array_equal(first, second)  # dropout is off in eval mode
    model.evaluate(x, y, verbose=0)
    assert not any(model.forward_grad_modes) and model.training  # no graph; train mode restored
    assert isinstance(model.evaluate(x, y, verbose=0), list)
    model.compile(optimizer="sgd", loss=SparseCategoricalCrossentropy(from_logits=True))
    assert isinstance(model.evaluate(x, y, verbose=0), float)  # no metrics: the loss alone


def test_several_inputs_and_validation_split(topic_data):
    x, y, x_val, y_val = topic_data
    mask = x != 0
    model = compiled(MeanEmbeddingClassifier(60, 3))
    history = model.fit([x, mask], y, batch_size=32, epochs=4, validation_split=0.25, verbose=0)
    assert len(history.history["val_loss"]) == 4
    assert model.evaluate([x_val, x_val != 0], y_val, verbose=0)[1] > 0.7
    assert model.predict([x_val, x_val != 0], verbose=0).shape == (60, 3)
    with pytest.raises(ValueError, match="same number of samples"):
        model.fit([x, mask[:-1]], y, verbose=0)


def test_string_names_and_other_losses(topic_data):
    x, y, _, _ = topic_data
    model = MeanEmbeddingClassifier(60, 1)
    model.compile(optimizer="adam", loss="binary_crossentropy", metrics=["accuracy", "precision", "recall", "f1"])
    binary = (y == 0).astype(np.float32)
    with pytest.warns(UserWarning, match="taking them as logits"):
        history = model.fit(x, binary, epochs=2, batch_size=32, verbose=0)
    assert set(history.history) == {"loss", "accuracy", "precision", "recall", "f1"}
    model.compile(optimizer="sgd", loss=BinaryCrossentropy(from_logits=True), metrics=["accuracy"])
    assert model.fit(x, binary, epochs=3, batch_size=16, verbose=0).history["accuracy"][-1] > 0.6
    regression = MeanEmbeddingClassifier(60, 2)
    regression.compile(optimizer="adam", loss="mse")
    targets = np.stack([y, -y], axis=1).astype(np.float32)
    losses = regression.fit(x, targets, epochs=3, verbose=0).history["loss"]
    assert losses[-1] < losses[0]
    assert isinstance(training.compile.__doc__, str)
    regression.compile(optimizer="adam", loss=MeanSquaredError())


def test_class_weight_zero_means_no_update(topic_data):
    x, y, _, _ = topic_data
    model = compiled(MeanEmbeddingClassifier(60, 3))
    before = {k: v.copy() for k, v in model.state_dict().items()}
    history = model.fit(x, y, epochs=1, class_weight={0: 0.0, 1: 0.0, 2: 0.0}, verbose=0)
    assert history.history["loss"] == [0.0]
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, before[k])
    with pytest.raises(ValueError, match=r"no weight for classes \[2\]"):
        model.fit(x, y, class_weight={0: 1.0, 1: 2.0}, verbose=0)


def test_callbacks_inside_fit(topic_data, tmp_path):
    x, y, x_val, y_val = topic_data
    model = compiled(MeanEmbeddingClassifier(60, 3), lr=0.02)
    rates = []

    class RecordLR(cb.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            rates.append(cb.get_learning_rate(self.model._training_config.optimizer))

    history = model.fit(x, y, validation_data=(x_val, y_val), epochs=3, verbose=0, callbacks=[
        cb.LearningRateScheduler(lambda epoch, lr: 0.02 / (epoch + 1)), RecordLR(),
        cb.CSVLogger(tmp_path / "log.csv"),
        cb.ModelCheckpoint(str(tmp_path / "ckpt-{epoch}.safetensors")),
        cb.ModelCheckpoint(str(tmp_path / "best.safetensors"), monitor="val_accuracy", save_best_only=True)])
    assert rates == pytest.approx([0.02, 0.01, 0.02 / 3])
    assert history.history["learning_rate"] == pytest.approx(rates)
    rows = (tmp_path / "log.csv").read_text().splitlines()
    assert rows[0] == "epoch,accuracy,learning_rate,loss,val_accuracy,val_loss" and len(rows) == 4
    assert sorted(p.name for p in tmp_path.glob("ckpt-*")) == ["ckpt-1.safetensors", "ckpt-2.safetensors",
                                                              "ckpt-3.safetensors"]
    final = sk.load(tmp_path / "ckpt-3.safetensors")
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(final[k], v)
    assert (tmp_path / "best.safetensors").exists()


def test_early_stopping_restores_the_best_weights(topic_data):
    x, y, x_val, y_val = topic_data
    model = compiled(MeanEmbeddingClassifier(60, 3), lr=0.05)
    snapshots = []

    class Snapshot(cb.Callback):
        def on_epoch_end(self, epoch, logs=None):
            snapshots.append((logs["val_loss"], {k: v.copy() for k, v in self.model.state_dict().items()}))

    # min_delta so large that no epoch after the first counts as an improvement
    stopper = cb.EarlyStopping(monitor="val_loss", patience=2, min_delta=100.0, restore_best_weights=True)
    history = model.fit(x, y, validation_data=(x_val, y_val), epochs=10, verbose=0,
                        callbacks=[Snapshot(), stopper])
    assert history.epoch == [0, 1, 2] and stopper.stopped_epoch == 2 and stopper.best_epoch == 0
    for k, v in model.state_dict().items():
        np.testing.assert_array_equal(v, snapshots[0][1][k])


def test_keyboard_interrupt_stops_after_the_step_keeping_model_and_history(topic_data, capsys):
    x, y, _, _ = topic_data

    class CtrlC(cb.Callback):
        def on_train_batch_end(self, batch, logs=None):
            if len(self.model.history.epoch) == 1 and batch == 2:
                raise KeyboardInterrupt

    model = compiled(MeanEmbeddingClassifier(60, 3))
    before = model.state_dict()["head.weight"].copy()
    history = model.fit(x, y, batch_size=16, epochs=5, verbose=0, callbacks=[CtrlC()])
    assert history.stop_reason == "interrupted at epoch 2, step 3/12"
    assert history.epoch == [0, 1] and len(history.history["loss"]) == 2  # epoch 1 is the partial one
    assert not np.array_equal(model.state_dict()["head.weight"], before)
    assert "Training stopped: interrupted at epoch 2, step 3/12" in capsys.readouterr().err
    assert model.evaluate(x, y, verbose=0)[1] >= 0.0  # the model is intact and usable


def test_nan_loss_stops_with_epoch_and_step(topic_data, capsys):
    _, y, _, _ = topic_data
    features = np.random.default_rng(0).normal(size=(40, 4)).astype(np.float32)
    features[25] = np.nan  # batch 3 of the second epoch when batches are 10 in order

    class Dense(nn.Module):
        def __init__(self):
            super().__init__()
            self.fc = nn.Linear(4, 3)

        def forward(self, x):
            return self.fc(x)

    model = compiled(Dense())
    labels = y[:40]
    history = model.fit(features, labels, batch_size=10, epochs=3, shuffle=False, verbose=0)
    assert history.stop_reason.startswith("loss is nan at epoch 1, step 3/4")
    assert all(np.isfinite(v).all() for v in model.state_dict().values())  # the NaN step was not applied
    assert "loss is nan at epoch 1, step 3/4" in capsys.readouterr().err


def test_bad_input_raises_before_training(topic_data):
    x, y, _, _ = topic_data
    model = MeanEmbeddingClassifier(60, 3)
    with pytest.raises(RuntimeError, match="compile"):
        model.fit(x, y)
    with pytest.raises(ValueError, match="unknown optimizer 'adagrad'; expected one of adam, adamw, sgd"):
        model.compile(optimizer="adagrad", loss="mse")
    with pytest.raises(ValueError, match="unknown loss 'hinge'; expected one of sparse_categorical_crossentropy"):
        model.compile(loss="hinge")
    with pytest.raises(ValueError, match="unknown metric 'auc'; expected one of accuracy"):
        model.compile(loss="mse", metrics=["auc"])
    with pytest.raises(ValueError, match="a loss is required"):
        model.compile()
    compiled(model)
    before = model.state_dict()["head.weight"].copy()
    with pytest.raises(ValueError, match="x has 180 samples but y has 179"):
        model.fit(x, y[:-1], verbose=0)
    with pytest.raises(IndexError, match="label 3 is out of range for a model with 3 outputs"):
        model.fit(x, np.where(y == 2, 3, y), verbose=0)
    np.testing.assert_array_equal(model.state_dict()["head.weight"], before)
    with pytest.raises(ValueError, match="no samples"):
        model.fit(x[:0], y[:0], verbose=0)
    with pytest.raises(ValueError, match="batch_size"):
        model.fit(x, y, batch_size=0, verbose=0)
    with pytest.raises(ValueError, match="validation_split"):
        model.fit(x, y, validation_split=1.5, verbose=0)
    with pytest.raises(IndexError, match="out of range"):
        model.evaluate(x, y + 5, verbose=0)
    with pytest.raises(ValueError, match="no samples"):
        model.predict(x[:0], verbose=0)


def test_progress_output_one_line_per_epoch_when_not_a_terminal(topic_data, capsys):
    x, y, x_val, y_val = topic_data
    model = compiled(MeanEmbeddingClassifier(60, 3))
    model.fit(x, y, validation_data=(x_val, y_val), batch_size=32, epochs=2, verbose=1)
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 2 and lines[0].startswith("Epoch 1/2 - 6/6 - ") and "val_accuracy" in lines[0]
    model.fit(x, y, epochs=1, verbose=0)
    assert capsys.readouterr().out == ""


# ---- losses against torch / numpy ------------------------------------------------------------------
def test_losses_match_torch_and_keras_formulas():
    torch = pytest.importorskip("torch")
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(7, 5)).astype(np.float32)
    labels = rng.integers(0, 5, size=7)
    weights = rng.uniform(0.5, 2.0, size=7).astype(np.float32)
    # float32 kernels against torch's float32: a few ulps of a value of order 1
    t_logits = torch.tensor(logits, requires_grad=True)
    t_loss = (torch.nn.functional.cross_entropy(t_logits, torch.tensor(labels), reduction="none")
              * torch.tensor(weights)).mean()
    t_loss.backward()
    ours_in = sk.tensor(logits, requires_grad=True)
    ours = SparseCategoricalCrossentropy(from_logits=True)(ours_in, labels, weights)
    ours.backward()
    assert ours.item() == pytest.approx(t_loss.item(), rel=1e-5)
    np.testing.assert_allclose(ours_in.grad.numpy(), t_logits.grad.numpy(), rtol=1e-4, atol=1e-6)
    # from_logits=False takes probabilities: -log(p_y), with Keras's epsilon of 1e-7
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    expected = -np.log(probs[np.arange(7), labels]).mean()
    assert SparseCategoricalCrossentropy()(sk.tensor(probs), labels).item() == pytest.approx(expected, rel=1e-4)
    # tagging: per-sample mean over the labelled tokens, -100 ignored
    tokens = rng.normal(size=(3, 4, 5)).astype(np.float32)
    tags = rng.integers(0, 5, size=(3, 4))
    tags[0, 2:] = -100
    log_p = tokens - np.log(np.exp(tokens).sum(axis=-1, keepdims=True))
    picked = np.where(tags >= 0, -np.take_along_axis(log_p, np.maximum(tags, 0)[..., None], -1)[..., 0], 0.0)
    per_sample = picked.sum(axis=1) / (tags >= 0).sum(axis=1)
    tagging = SparseCategoricalCrossentropy(from_logits=True, ignore_class=-100)
    assert tagging(sk.tensor(tokens), tags).item() == pytest.approx(per_sample.mean(), rel=1e-5)
    # binary, from logits and from probabilities
    scores = rng.normal(size=(6, 1)).astype(np.float32)
    targets = rng.integers(0, 2, size=6)
    t_bce = torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(scores[:, 0]),
                                                                 torch.tensor(targets, dtype=torch.float32))
    assert BinaryCrossentropy(from_logits=True)(sk.tensor(scores), targets).item() == pytest.approx(
        t_bce.item(), rel=1e-5)
    p = 1 / (1 + np.exp(-scores[:, 0]))
    assert BinaryCrossentropy()(sk.tensor(p[:, None]), targets).item() == pytest.approx(
        t_bce.item(), rel=1e-4)
    outputs = rng.normal(size=(4, 3)).astype(np.float32)
    goals = rng.normal(size=(4, 3)).astype(np.float32)
    assert MeanSquaredError()(sk.tensor(outputs), goals).item() == pytest.approx(
        np.mean((outputs - goals) ** 2), rel=1e-5)


def test_sigint_finishes_the_current_step_then_stops(topic_data):
    import signal
    x, y, _, _ = topic_data
    steps_seen = []

    class PressCtrlC(cb.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            steps_seen.append(batch)
            if batch == 2:
                signal.raise_signal(signal.SIGINT)  # arrives mid-step: fit's handler only flags it

    model = compiled(MeanEmbeddingClassifier(60, 3))
    handler = signal.getsignal(signal.SIGINT)
    history = model.fit(x, y, batch_size=16, epochs=2, verbose=0, callbacks=[PressCtrlC()])
    assert steps_seen == [0, 1, 2] and history.stop_reason == "interrupted at epoch 1, step 3/12"
    assert len(history.history["loss"]) == 1
    assert signal.getsignal(signal.SIGINT) is handler  # the previous handler is back
