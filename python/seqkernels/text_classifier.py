"""The ``seqkernels train`` / ``seqkernels predict`` job: a text classifier from labelled texts.

Texts are tokenized with the Keras ``Tokenizer`` (vocabulary fitted on the training split only),
padded with ``pad_sequences``, and fed to a TextCNN, a bidirectional LSTM or a small BERT trained with
``fit``. The output directory holds everything ``predict`` needs:

    model.safetensors   the best epoch's weights (by validation accuracy)
    tokenizer.json      Tokenizer.to_json()
    config.json         model name and sizes, sequence length, class names
    history.csv         per-epoch loss and accuracy (CSVLogger)
    curves.png          training curves (plot_history; needs matplotlib)
"""
from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from typing import List, Sequence, Tuple

import numpy as np

MODEL_NAMES = ("textcnn", "lstm", "bert")
PAD, OOV = 0, "<unk>"


@dataclass
class ClassifierConfig:
    """What rebuilds a trained classifier: the architecture and the text pipeline."""

    model: str = "textcnn"
    classes: List[str] = field(default_factory=list)
    vocab_size: int = 10000
    max_len: int = 150
    embed_dim: int = 64
    hidden: int = 64      # TextCNN filters per kernel size, LSTM hidden size, BERT hidden size
    dropout: float = 0.5

    def save(self, path: str) -> None:
        with open(path, "w", encoding="utf-8") as fh:
            json.dump(asdict(self), fh, indent=2)

    @classmethod
    def load(cls, path: str) -> "ClassifierConfig":
        with open(path, encoding="utf-8") as fh:
            return cls(**json.load(fh))


def build_model(config: ClassifierConfig):
    """The named architecture from ``seqkernels.models``, sized by ``config``."""
    from . import models

    if config.model not in MODEL_NAMES:
        raise ValueError(f"unknown model {config.model!r}; expected one of {', '.join(MODEL_NAMES)}")
    classes = len(config.classes)
    if config.model == "textcnn":
        return models.TextCNN(config.vocab_size, embed_dim=config.embed_dim, num_classes=classes,
                              kernel_sizes=(3, 4, 5), num_filters=config.hidden, dropout=config.dropout,
                              padding_idx=PAD)
    if config.model == "lstm":
        return models.RNNClassifier(config.vocab_size, embed_dim=config.embed_dim, hidden_size=config.hidden,
                                    num_classes=classes, cell="lstm", bidirectional=True, dropout=0.0,
                                    padding_idx=PAD)
    from .models import bert

    bert_config = bert.BertConfig(vocab_size=config.vocab_size, hidden_size=config.hidden, num_hidden_layers=2,
                                  num_attention_heads=max(1, config.hidden // 32), intermediate_size=4 * config.hidden,
                                  max_position_embeddings=config.max_len, num_labels=classes,
                                  hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1)
    return bert.BertForSequenceClassification(bert_config)


def model_inputs(config: ClassifierConfig, ids: np.ndarray):
    """The arrays the model takes: ids, plus BERT's attention mask (1 = real token, 0 = padding)."""
    return [ids, (ids != PAD).astype(np.int64)] if config.model == "bert" else ids


def encode(tokenizer, texts: Sequence[str], max_len: int) -> np.ndarray:
    """Token ids, padded and truncated at the end (a news article's first words carry its topic)."""
    from .preprocessing.sequence import pad_sequences

    return pad_sequences(tokenizer.texts_to_sequences(texts), maxlen=max_len, padding="post", truncating="post",
                         value=PAD)


def split_train_validation(labels: np.ndarray, validation_fraction: float, seed: int) -> Tuple[np.ndarray, np.ndarray]:
    """Indices of a stratified split: each class keeps ``validation_fraction`` of its samples (at least
    one when it has two or more) for validation."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for c in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == c))
        held = int(round(len(members) * validation_fraction))
        if len(members) >= 2:
            held = min(max(held, 1), len(members) - 1)
        val.append(members[:held])
        train.append(members[held:])
    return rng.permutation(np.concatenate(train)), np.sort(np.concatenate(val))


def train(texts: Sequence[str], labels: Sequence[str], output_dir: str, model: str = "textcnn",
          epochs: int = 6, batch_size: int = 32, learning_rate: float = 5e-3, validation_fraction: float = 0.2,
          num_words: int = 10000, max_len: int = 150, embed_dim: int = 64, hidden: int = 64, seed: int = 0,
          verbose: int = 1, log=print) -> dict:
    """Trains and saves a classifier; returns ``{"val_accuracy", "report", "history", "files"}``.
    Under ``seqkernels.distributed`` every rank trains its share and only rank 0 logs and saves (the
    other ranks return after ``fit`` with ``val_accuracy`` None and no files)."""
    from . import callbacks, distributed, load, losses, optim
    from .metrics import classification_report
    from .preprocessing.text import Tokenizer
    from .random import manual_seed

    if model not in MODEL_NAMES:
        raise ValueError(f"unknown model {model!r}; expected one of {', '.join(MODEL_NAMES)}")
    if not 0.0 < validation_fraction < 1.0:
        raise ValueError(f"the validation fraction must be in (0, 1), got {validation_fraction}")
    classes = sorted(set(labels))
    if len(classes) < 2:
        raise ValueError(f"need at least two classes to train a classifier, found {classes}")
    main_process = distributed.is_main_process()
    if not main_process:
        log, verbose = (lambda *args: None), 0
    manual_seed(seed)
    y = np.array([classes.index(label) for label in labels], dtype=np.int64)
    train_idx, val_idx = split_train_validation(y, validation_fraction, seed)
    if len(val_idx) == 0:
        raise ValueError("too few samples to hold out a validation split")
    tokenizer = Tokenizer(num_words=num_words, oov_token=OOV)
    tokenizer.fit_on_texts([texts[i] for i in train_idx])
    vocab_size = min(num_words, len(tokenizer.word_index) + 1)
    config = ClassifierConfig(model=model, classes=classes, vocab_size=vocab_size, max_len=max_len,
                              embed_dim=embed_dim, hidden=hidden, dropout=0.5 if model == "textcnn" else 0.1)
    ids = encode(tokenizer, texts, max_len)
    x_train, x_val = model_inputs(config, ids[train_idx]), model_inputs(config, ids[val_idx])
    y_train, y_val = y[train_idx], y[val_idx]
    log(f"{len(texts)} texts, {len(classes)} classes ({', '.join(classes)}); {len(train_idx)} for training, "
        f"{len(val_idx)} for validation; vocabulary {vocab_size}, sequences of {max_len} tokens; model {model}")

    if main_process:
        os.makedirs(output_dir, exist_ok=True)
    files = {name: os.path.join(output_dir, name) for name in
             ("model.safetensors", "tokenizer.json", "config.json", "history.csv", "curves.png")}
    net = build_model(config)
    net.compile(optimizer=optim.Adam(net.parameters(), lr=learning_rate),
                loss=losses.SparseCategoricalCrossentropy(from_logits=True), metrics=["accuracy"])
    history = net.fit(x_train, y_train, batch_size=batch_size, epochs=epochs, validation_data=(x_val, y_val),
                      verbose=verbose, callbacks=[
                          callbacks.ModelCheckpoint(files["model.safetensors"], monitor="val_accuracy",
                                                    save_best_only=True),
                          callbacks.CSVLogger(files["history.csv"])])
    if not main_process:
        return {"val_accuracy": None, "report": None, "history": history, "files": {}}
    if os.path.exists(files["model.safetensors"]):
        net.load_state_dict(load(files["model.safetensors"]))
    else:  # interrupted before the first epoch ended: keep what there is
        from . import save
        save(net.state_dict(), files["model.safetensors"])
    with open(files["tokenizer.json"], "w", encoding="utf-8") as fh:
        fh.write(tokenizer.to_json())
    config.save(files["config.json"])

    scores = net.predict(x_val, batch_size=batch_size, verbose=0)
    predicted = scores.argmax(axis=-1)
    val_accuracy = float(np.mean(predicted == y_val))
    report = classification_report(y_val, predicted, classes)
    log(f"\nvalidation accuracy: {val_accuracy:.4f} ({len(y_val)} texts)\n\n{report}\n")
    try:
        callbacks.plot_history(history, files["curves.png"])
    except ImportError as exc:
        log(f"(no curves.png: {exc})")
        files.pop("curves.png")
    except ValueError:  # no complete epoch to plot
        files.pop("curves.png")
    log("saved " + ", ".join(files.values()))
    return {"val_accuracy": val_accuracy, "report": report, "history": history, "files": files}


class TrainedClassifier:
    """A classifier saved by ``train``, ready to label new texts."""

    def __init__(self, model_dir: str):
        from . import load
        from .preprocessing.text import tokenizer_from_json

        paths = {name: os.path.join(model_dir, name) for name in ("config.json", "tokenizer.json", "model.safetensors")}
        missing = [p for p in paths.values() if not os.path.isfile(p)]
        if missing:
            raise FileNotFoundError(f"{model_dir}: not a trained model directory (missing {', '.join(missing)}); "
                                    "create one with `seqkernels train --output-dir DIR`")
        self.config = ClassifierConfig.load(paths["config.json"])
        with open(paths["tokenizer.json"], encoding="utf-8") as fh:
            self.tokenizer = tokenizer_from_json(fh.read())
        self.model = build_model(self.config)
        self.model.load_state_dict(load(paths["model.safetensors"]))
        self.model.eval()

    def probabilities(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        from . import training

        ids = encode(self.tokenizer, texts, self.config.max_len)
        logits = training.predict(self.model, model_inputs(self.config, ids), batch_size=batch_size, verbose=0)
        logits = logits - logits.max(axis=-1, keepdims=True)
        exp = np.exp(logits)
        return exp / exp.sum(axis=-1, keepdims=True)

    def classify(self, texts: Sequence[str]) -> List[Tuple[str, float]]:
        """(label, probability) of the most likely class for each text."""
        probs = self.probabilities(texts)
        best = probs.argmax(axis=-1)
        return [(self.config.classes[k], float(probs[i, k])) for i, k in enumerate(best)]


__all__ = ["ClassifierConfig", "MODEL_NAMES", "TrainedClassifier", "build_model", "encode", "train"]
