"""Recurrent text models: ``RNNClassifier`` (a label per sequence) and ``RNNTagger`` (a label per token).

    ids (batch, length) -> Embedding(padding_idx) -> (bi)LSTM / GRU / RNN over each sequence's real tokens
    classifier: concatenate the last layer's final states (forward: after the last real token; backward:
                after the first) -> dropout -> Linear -> logits (batch, num_classes)
    tagger:     the output at every position -> dropout -> Linear -> logits (batch, length, num_classes)
                (``crf=True``: those logits are a CRF's emissions; ``loss`` is its NLL, ``decode`` Viterbi)

The real tokens of a row are the span from its first to its last id that is not ``padding_idx``, so rows
padded at the end (torch, Keras ``padding="post"``) and at the front (Keras' default ``padding="pre"``) both
work: the recurrence runs over exactly that span (the layers' ``lengths=``), as torch's packed sequences do.
A row of padding only is read as one padding token. Tagger logits at padding positions are those of a zero
RNN output (mask them in the loss, e.g. with ``ignore_index``). ``dropout`` acts between recurrent layers and
before the output layer.
"""
from __future__ import annotations

import numpy as np

from .. import functional as F
from ..nn import CRF, GRU, LSTM, RNN, Dropout, Embedding, Linear, Module
from ..tensor_functions import cat
from ..tensor import Tensor

CELLS = {"lstm": LSTM, "gru": GRU, "rnn": RNN}


def real_spans(ids: np.ndarray, padding_idx) -> tuple:
    """Per row: the offset of the first real token and the length of the span up to the last one (>= 1)."""
    if padding_idx is None:
        return np.zeros(ids.shape[0], np.int64), np.full(ids.shape[0], ids.shape[1], np.int64)
    real = ids != padding_idx
    steps = ids.shape[1]
    start = np.where(real.any(axis=1), real.argmax(axis=1), 0)
    end = steps - np.where(real.any(axis=1), real[:, ::-1].argmax(axis=1), steps - 1)
    return start.astype(np.int64), np.maximum(end - start, 1).astype(np.int64)


class _RecurrentTextModel(Module):
    """What the classifier and the tagger share: their arguments, embedding, recurrent stack and output layer."""

    def __init__(self, vocab_size: int, embed_dim: int = 128, hidden_size: int = 128, num_classes: int = 2,
                 cell: str = "lstm", num_layers: int = 1, bidirectional: bool = True, dropout: float = 0.0,
                 padding_idx=0):
        super().__init__()
        name = type(self).__name__
        if cell not in CELLS:
            raise ValueError(f"{name}: argument 'cell' must be one of {sorted(CELLS)}, got {cell!r}")
        self.cell = cell
        self.embedding = Embedding(vocab_size, embed_dim, padding_idx=padding_idx)
        self.padding_idx = self.embedding.padding_idx
        self.rnn = CELLS[cell](embed_dim, hidden_size, num_layers=num_layers, batch_first=True, dropout=dropout,
                               bidirectional=bidirectional)
        self.dropout = Dropout(dropout)
        self.fc = Linear(hidden_size * (2 if bidirectional else 1), num_classes)

    def _encode(self, ids):
        """(output (batch, length, D*H) with each row's span first, h_n, the span offsets or None if all are 0)."""
        ids = ids.data if isinstance(ids, Tensor) else np.asarray(ids)
        if ids.ndim != 2 or ids.shape[1] == 0:
            raise ValueError(f"{type(self).__name__}: expected ids of shape (batch, length >= 1), got {ids.shape}")
        start, lengths = real_spans(ids, self.padding_idx)
        shifted = start.any()
        if shifted:  # move each row's span to the front (a rotation of the row)
            steps = ids.shape[1]
            ids = np.take_along_axis(ids, (np.arange(steps)[None, :] + start[:, None]) % steps, axis=1)
        output, state = self.rnn(self.embedding(ids), lengths=lengths)
        h_n = state[0] if self.cell == "lstm" else state
        return output, h_n, (start if shifted else None)


class RNNClassifier(_RecurrentTextModel):
    """Embedding -> (bi)RNN over the real tokens -> final states of the last layer -> dropout -> Linear."""

    def forward(self, ids):
        _, h_n, _ = self._encode(ids)
        directions = 2 if self.rnn.bidirectional else 1
        last = h_n[-directions:]  # the last layer's directions, (D, batch, H)
        features = last[0] if directions == 1 else cat([last[0], last[1]], 1)
        return self.fc(self.dropout(features))


class RNNTagger(_RecurrentTextModel):
    """Embedding -> (bi)RNN over the real tokens -> dropout -> Linear at every position (e.g. NER tags);
    with ``crf=True`` a linear-chain ``CRF`` over those scores (BiLSTM-CRF, Lample et al. 2016).

    ``loss(ids, tags)``: the CRF's mean negative log-likelihood per sequence, or the cross-entropy per token
    (tags of -100 ignored) without a CRF. ``decode(ids)``: the tag ids of each sequence's real tokens (Viterbi
    with a CRF, the argmax otherwise). With a CRF the real tokens must come first (padding at the end)."""

    def __init__(self, vocab_size: int, embed_dim: int = 128, hidden_size: int = 128, num_classes: int = 2,
                 cell: str = "lstm", num_layers: int = 1, bidirectional: bool = True, dropout: float = 0.0,
                 padding_idx=0, crf: bool = False):
        super().__init__(vocab_size, embed_dim, hidden_size, num_classes, cell, num_layers, bidirectional, dropout,
                         padding_idx)
        self.crf = CRF(num_classes) if crf else None

    def _lengths(self, ids) -> np.ndarray:
        ids = ids.data if isinstance(ids, Tensor) else np.asarray(ids)
        start, lengths = real_spans(ids, self.padding_idx)
        if self.crf is not None and start.any():
            raise ValueError("RNNTagger(crf=True): pad sequences at the end (padding='post')")
        return lengths

    def loss(self, ids, tags) -> Tensor:
        emissions = self(ids)
        tags = tags.data if isinstance(tags, Tensor) else np.asarray(tags)
        if self.crf is not None:
            return self.crf(emissions, np.where(tags < 0, 0, tags), lengths=self._lengths(ids))
        return F.cross_entropy(emissions.reshape(-1, emissions.shape[-1]), Tensor(tags.reshape(-1)),
                               ignore_index=-100)

    def decode(self, ids):
        lengths = self._lengths(ids)
        emissions = self(ids)
        if self.crf is not None:
            return self.crf.decode(emissions, lengths=lengths)
        best = emissions.data.argmax(axis=-1)
        return [row[:n].tolist() for row, n in zip(best, lengths)]

    def forward(self, ids):
        output, _, start = self._encode(ids)
        if start is not None:  # rotate each row back to the positions of the input ids
            batch, steps = output.shape[:2]
            cols = (np.arange(steps)[None, :] - start[:, None]) % steps
            output = output[np.arange(batch)[:, None], cols]
        return self.fc(self.dropout(output))
