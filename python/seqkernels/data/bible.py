"""English-French verse pairs of the Bible (King James Version / Louis Segond 1910, both public domain), for
translation: ``bible_kjv_lsg.tsv.gz`` beside this file, provenance in ``BIBLE_KJV_LSG_LICENSE.md``.

Split by whole books, so that no verse of a test or validation book is seen in training::

    pairs = load_bible_pairs()                 # every verse: dicts book, chapter, verse, en, fr
    train, valid, test = bible_splits()        # lists of (en, fr) over BIBLE_SPLITS' books
"""
from __future__ import annotations

import csv
import gzip
from pathlib import Path
from typing import Dict, List, Tuple

BIBLE = Path(__file__).with_name("bible_kjv_lsg.tsv.gz")

# held-out books: short, from both testaments, and of different genres (narrative, prophecy, letters)
BIBLE_SPLITS = {
    "test": ("Ruth", "Jonah", "Philippians", "1John"),
    "valid": ("Obadiah", "Haggai", "Titus", "2John", "3John"),
}


def load_bible_pairs() -> List[Dict]:
    """Every verse in canonical order as {"book", "chapter", "verse", "en", "fr"} (31,102 verses)."""
    with gzip.open(BIBLE, "rt", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh, delimiter="\t", quoting=csv.QUOTE_NONE))
    for row in rows:
        row["chapter"], row["verse"] = int(row["chapter"]), int(row["verse"])
    return rows


def bible_splits(source: str = "en", target: str = "fr") -> Tuple[List[Tuple[str, str]], ...]:
    """(train, valid, test): lists of (source, target) verse pairs; valid and test are the books of
    ``BIBLE_SPLITS``, train every other book."""
    for name, lang in (("source", source), ("target", target)):
        if lang not in ("en", "fr"):
            raise ValueError(f"bible_splits: argument '{name}' must be 'en' or 'fr', got {lang!r}")
    parts = {"train": [], "valid": [], "test": []}
    split_of = {book: split for split, books in BIBLE_SPLITS.items() for book in books}
    for row in load_bible_pairs():
        parts[split_of.get(row["book"], "train")].append((row[source], row[target]))
    return parts["train"], parts["valid"], parts["test"]


__all__ = ["BIBLE", "BIBLE_SPLITS", "bible_splits", "load_bible_pairs"]
