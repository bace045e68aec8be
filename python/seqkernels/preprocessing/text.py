"""Keras's text ``Tokenizer``, reimplemented on the standard library and numpy (no TensorFlow).

Semantics follow ``keras.preprocessing.text`` option for option: index 0 is never assigned; words are
ranked by corpus frequency (ties keep first-seen order); an ``oov_token`` takes index 1; ``num_words``
keeps only indices ``1 .. num_words-1`` when converting (the vocabulary itself is never truncated);
``to_json`` / ``tokenizer_from_json`` use Keras's format, so tokenizers move between the two libraries.
"""
from __future__ import annotations

import json
import warnings
from collections import OrderedDict, defaultdict
from typing import Callable, Dict, Iterable, Iterator, List, Optional, Union

import numpy as np

from .._jsonfile import loads_object

DEFAULT_FILTERS = '!"#$%&()*+,-./:;<=>?@[\\]^_`{|}~\t\n'
MATRIX_MODES = ("binary", "count", "tfidf", "freq")


def text_to_word_sequence(text: str, filters: str = DEFAULT_FILTERS, lower: bool = True,
                          split: Union[str, Callable[[str], Iterable[str]]] = " ") -> List[str]:
    """Lower-cases ``text`` (if ``lower``), replaces every character of ``filters`` by ``split`` and
    splits on ``split`` (or calls it, when it is a function); empty tokens are dropped."""
    if lower:
        text = text.lower()
    if callable(split):
        text = text.translate(str.maketrans({c: " " for c in filters}))
        tokens = split(text)
    else:
        text = text.translate(str.maketrans({c: split for c in filters}))
        tokens = text.split(split)
    return [t for t in tokens if t]


class Tokenizer:
    """Turns texts into sequences of word indices (or count / tf-idf matrices), as Keras's Tokenizer.

    Args:
        num_words: keep the ``num_words - 1`` most frequent words when converting (None: all).
        filters: characters removed from the texts (Keras's default: punctuation except ``'``, tab, newline).
        lower: lower-case the texts.
        split: the word separator (or a function returning the tokens of a string).
        char_level: every character is a token (use this for Chinese and other unsegmented scripts).
        oov_token: added to ``word_index`` at index 1 and used for unknown words.
        analyzer: a function text -> tokens that replaces ``text_to_word_sequence`` (as tf.keras).
        document_count: starting document count (``tokenizer_from_json`` uses it).
    """

    def __init__(self, num_words: Optional[int] = None, filters: str = DEFAULT_FILTERS, lower: bool = True,
                 split: str = " ", char_level: bool = False, oov_token: Optional[str] = None,
                 analyzer: Optional[Callable[[str], Iterable[str]]] = None, **kwargs):
        if "nb_words" in kwargs:
            warnings.warn("The `nb_words` argument in `Tokenizer` has been renamed `num_words`.")
            num_words = kwargs.pop("nb_words")
        document_count = kwargs.pop("document_count", 0)
        if kwargs:
            raise TypeError(f"Unrecognized keyword arguments: {kwargs}")
        if num_words is not None and (isinstance(num_words, bool) or not isinstance(num_words, (int, np.integer))):
            raise TypeError(f"Tokenizer: num_words must be an int or None, got {type(num_words).__name__}")
        self.num_words = None if num_words is None else int(num_words)
        self.filters = filters
        self.lower = lower
        self.split = split
        self.char_level = char_level
        self.oov_token = oov_token
        self.analyzer = analyzer
        self.document_count = document_count
        self.word_counts: "OrderedDict[str, int]" = OrderedDict()
        self.word_docs: Dict[str, int] = defaultdict(int)
        self.index_docs: Dict[int, int] = defaultdict(int)
        self.word_index: Dict[str, int] = {}
        self.index_word: Dict[int, str] = {}

    # ---- tokenizing one text ---------------------------------------------------------------------
    def _tokens(self, text) -> List[str]:
        """A text's tokens: a list is taken as tokens already, char_level splits into characters."""
        if self.char_level or isinstance(text, list):
            if self.lower:
                text = [t.lower() for t in text] if isinstance(text, list) else text.lower()
            return list(text)
        if self.analyzer is not None:
            return list(self.analyzer(text))
        return text_to_word_sequence(text, self.filters, self.lower, self.split)

    # ---- fitting ---------------------------------------------------------------------------------
    def fit_on_texts(self, texts: Iterable) -> None:
        """Updates the vocabulary from ``texts`` (strings, a generator of strings, or lists of tokens)."""
        for text in texts:
            self.document_count += 1
            tokens = self._tokens(text)
            for w in tokens:
                self.word_counts[w] = self.word_counts.get(w, 0) + 1
            for w in set(tokens):
                self.word_docs[w] += 1
        # stable sort: equally frequent words keep the order in which they were first seen
        ranked = sorted(self.word_counts, key=self.word_counts.__getitem__, reverse=True)
        vocabulary = ([] if self.oov_token is None else [self.oov_token]) + ranked
        self.word_index = dict(zip(vocabulary, range(1, len(vocabulary) + 1)))
        self.index_word = {i: w for w, i in self.word_index.items()}
        for w, c in self.word_docs.items():
            self.index_docs[self.word_index[w]] = c

    def fit_on_sequences(self, sequences) -> None:
        """Updates ``document_count`` and ``index_docs`` from sequences of word indices (needed by
        ``sequences_to_matrix(mode="tfidf")`` when ``fit_on_texts`` was never called)."""
        self.document_count += len(sequences)
        for seq in sequences:
            for i in set(seq):
                self.index_docs[i] += 1

    # ---- texts <-> sequences ---------------------------------------------------------------------
    def _kept(self, index: int) -> bool:
        return not self.num_words or index < self.num_words

    def texts_to_sequences(self, texts) -> List[List[int]]:
        """Each text as a list of word indices; unknown words (and words ranked ``>= num_words``) are
        dropped, or become the ``oov_token``'s index when there is one."""
        return list(self.texts_to_sequences_generator(texts))

    def texts_to_sequences_generator(self, texts) -> Iterator[List[int]]:
        """Generator form of ``texts_to_sequences``: yields one sequence per text."""
        oov_index = self.word_index.get(self.oov_token)
        for text in texts:
            seq = []
            for w in self._tokens(text):
                i = self.word_index.get(w)
                if i is not None and self._kept(i):
                    seq.append(i)
                elif oov_index is not None:
                    seq.append(oov_index)
            yield seq

    def sequences_to_texts(self, sequences) -> List[str]:
        """Each sequence of indices as a space-joined string (the inverse of ``texts_to_sequences``
        up to filtering and lower-casing)."""
        return list(self.sequences_to_texts_generator(sequences))

    def sequences_to_texts_generator(self, sequences) -> Iterator[str]:
        """Generator form of ``sequences_to_texts``: yields one string per sequence."""
        oov_index = self.word_index.get(self.oov_token)
        for seq in sequences:
            words = []
            for i in seq:
                w = self.index_word.get(i)
                if w is not None and self._kept(i):
                    words.append(w)
                elif oov_index is not None:
                    words.append(self.index_word[oov_index])
            yield " ".join(words)

    # ---- matrices --------------------------------------------------------------------------------
    def texts_to_matrix(self, texts, mode: str = "binary") -> np.ndarray:
        """``sequences_to_matrix(texts_to_sequences(texts), mode)``."""
        return self.sequences_to_matrix(self.texts_to_sequences(texts), mode=mode)

    def sequences_to_matrix(self, sequences, mode: str = "binary") -> np.ndarray:
        """A float64 matrix (len(sequences), num_words) with, per index j of row i:
        ``binary`` 1 if present; ``count`` its count c; ``freq`` c / len(sequence);
        ``tfidf`` (1 + ln c) * ln(1 + document_count / (1 + index_docs[j])) (Keras's formula).
        Indices ``>= num_words`` are ignored (but still count in ``freq``'s denominator, as Keras)."""
        if mode not in MATRIX_MODES:
            raise ValueError(f"Unknown vectorization mode: {mode!r}; expected one of {', '.join(MATRIX_MODES)}")
        if self.num_words:
            width = self.num_words
        elif self.word_index:
            width = len(self.word_index) + 1
        else:
            raise ValueError("Specify a dimension (`num_words` argument), or fit on some text data first.")
        if mode == "tfidf" and not self.document_count:
            raise ValueError("Fit the Tokenizer on some data before using tfidf mode.")
        x = np.zeros((len(sequences), width))
        for row, seq in enumerate(sequences):
            if not len(seq):
                continue
            ids = np.asarray(seq, dtype=np.int64)
            indices, counts = np.unique(ids[ids < width], return_counts=True)
            if mode == "binary":
                x[row, indices] = 1.0
            elif mode == "count":
                x[row, indices] = counts
            elif mode == "freq":
                x[row, indices] = counts / len(seq)
            else:
                docs = np.array([self.index_docs.get(int(j), 0) for j in indices], dtype=np.float64)
                x[row, indices] = (1.0 + np.log(counts)) * np.log(1.0 + self.document_count / (1.0 + docs))
        return x

    # ---- serialization ---------------------------------------------------------------------------
    def get_config(self) -> dict:
        """Keras's config: the options, plus the vocabulary tables as JSON strings."""
        return {
            "num_words": self.num_words, "filters": self.filters, "lower": self.lower, "split": self.split,
            "char_level": self.char_level, "oov_token": self.oov_token, "document_count": self.document_count,
            "word_counts": json.dumps(self.word_counts), "word_docs": json.dumps(self.word_docs),
            "index_docs": json.dumps(self.index_docs), "index_word": json.dumps(self.index_word),
            "word_index": json.dumps(self.word_index),
        }

    def to_json(self, **kwargs) -> str:
        """The tokenizer as a JSON string (``json.dumps`` keyword arguments pass through);
        ``tokenizer_from_json`` reads it back. A custom ``split`` function or ``analyzer`` is not saved."""
        if callable(self.split):
            raise ValueError("to_json: a Tokenizer with a function as `split` cannot be serialized")
        return json.dumps({"class_name": type(self).__name__, "config": self.get_config()}, **kwargs)


def tokenizer_from_json(json_string: str) -> Tokenizer:
    """Rebuilds a ``Tokenizer`` from ``Tokenizer.to_json()`` (ours or Keras's)."""
    if not isinstance(json_string, (str, bytes, bytearray)):
        raise TypeError(f"tokenizer_from_json: argument 'json_string' must be a str, got {type(json_string).__name__}")
    config = loads_object(json_string, "tokenizer_from_json: argument 'json_string'").get("config")
    names = ("word_counts", "word_docs", "index_docs", "index_word", "word_index")
    if not isinstance(config, dict) or not all(isinstance(config.get(name), str) for name in names):
        raise ValueError("tokenizer_from_json: argument 'json_string' is not a serialized Tokenizer (a 'config' "
                         f"object with the JSON strings {', '.join(names)})")
    config = dict(config)
    tables = {name: loads_object(config.pop(name), f"tokenizer_from_json: '{name}'") for name in names}
    tokenizer = Tokenizer(**config)
    tokenizer.word_counts = OrderedDict(tables["word_counts"])
    tokenizer.word_docs = defaultdict(int, tables["word_docs"])
    tokenizer.index_docs = defaultdict(int, {int(k): v for k, v in tables["index_docs"].items()})
    tokenizer.index_word = {int(k): v for k, v in tables["index_word"].items()}
    tokenizer.word_index = tables["word_index"]
    return tokenizer


__all__ = ["DEFAULT_FILTERS", "Tokenizer", "text_to_word_sequence", "tokenizer_from_json"]
