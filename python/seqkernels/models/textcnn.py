"""``TextCNN``: Kim (2014), "Convolutional Neural Networks for Sentence Classification".

    ids (batch, length) -> embedding (batch, length, embed_dim) -> one Conv1d per kernel size over time
    -> ReLU -> max over time -> concatenate (batch, num_filters * len(kernel_sizes)) -> dropout -> Linear -> logits

Sequences shorter than the largest kernel are zero-padded on the right (after the embedding) to that length,
which is what padding them with ``padding_idx`` tokens does (that row is zero at init and gets no gradient), so
every kernel has at least one window and the model accepts any length >= 1. Kim pads the same way.
"""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .. import functional as F
from ..nn import Conv1d, Dropout, Embedding, Linear, Module, ModuleList
from ..tensor_functions import cat, zeros
from ..tensor import Tensor


class TextCNN(Module):
    def __init__(self, vocab_size: int, embed_dim: int = 128, num_classes: int = 2,
                 kernel_sizes: Sequence[int] = (3, 4, 5), num_filters: int = 100, dropout: float = 0.5,
                 padding_idx=0):
        super().__init__()
        kernel_sizes = tuple(kernel_sizes)
        if not kernel_sizes:
            raise ValueError("TextCNN: kernel_sizes must name at least one kernel size")
        self.kernel_sizes = kernel_sizes
        self.embedding = Embedding(vocab_size, embed_dim, padding_idx=padding_idx)
        self.convs = ModuleList([Conv1d(embed_dim, num_filters, k) for k in kernel_sizes])
        self.dropout = Dropout(dropout)
        self.fc = Linear(num_filters * len(kernel_sizes), num_classes)

    def forward(self, ids):
        ids = ids.data if isinstance(ids, Tensor) else np.asarray(ids)
        if ids.ndim != 2:
            raise ValueError(f"TextCNN: expected ids of shape (batch, length), got {ids.shape}")
        x = self.embedding(ids).transpose(1, 2)  # (batch, embed_dim, length)
        short = max(self.kernel_sizes) - ids.shape[1]
        if short > 0:
            x = cat([x, zeros(ids.shape[0], x.shape[1], short)], dim=2)
        # x is channels-last in memory (the embedding's transpose), which conv1d reads in place and keeps for
        # its output: (batch, filters, steps) stored as (batch, steps, filters), so ReLU and the max over time
        # run on the contiguous transpose.
        pooled = [conv(x).transpose(1, 2).relu().max(dim=1)[0] for conv in self.convs]
        return self.fc(self.dropout(cat(pooled, dim=1)))
