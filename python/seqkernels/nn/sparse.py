"""``Embedding``: a lookup table of ``num_embeddings`` rows of ``embedding_dim`` floats (torch.nn.Embedding)."""
from __future__ import annotations

import numpy as np

from .. import functional as F
from ..ops.embedding import padding_row
from ..tensor import Tensor
from . import init
from .linear import _positive_int
from .module import Module
from .parameter import Parameter


class Embedding(Module):
    """``weight`` (num_embeddings, embedding_dim), initialised N(0, 1) with the ``padding_idx`` row zeroed (that row
    never receives a gradient). With ``sparse=True`` the gradient left on ``weight`` is a ``SparseGrad`` holding
    only the rows looked up (see ``seqkernels.ops.embedding``)."""

    def __init__(self, num_embeddings: int, embedding_dim: int, padding_idx=None, max_norm=None, norm_type=2.0,
                 scale_grad_by_freq=False, sparse=False, _weight=None, _freeze=False, dtype=None):
        super().__init__()
        self.num_embeddings = _positive_int(num_embeddings, "Embedding", "num_embeddings")
        self.embedding_dim = _positive_int(embedding_dim, "Embedding", "embedding_dim")
        self.padding_idx = padding_row(padding_idx, self.num_embeddings, "Embedding")
        self.max_norm, self.norm_type = max_norm, norm_type
        self.scale_grad_by_freq, self.sparse = bool(scale_grad_by_freq), bool(sparse)
        shape = (self.num_embeddings, self.embedding_dim)
        if _weight is None:
            self.weight = Parameter(np.empty(shape, dtype=np.float32 if dtype is None else dtype),
                                    requires_grad=not _freeze)
            self.reset_parameters()
        else:
            weight = np.array(_weight.data if isinstance(_weight, Tensor) else _weight, dtype=np.float32)
            if weight.shape != shape:
                raise ValueError(f"Embedding: _weight must have shape {shape}, got {weight.shape}")
            self.weight = Parameter(weight, requires_grad=not _freeze)

    def reset_parameters(self) -> None:
        init.normal_(self.weight)
        if self.padding_idx is not None:
            self.weight.data[self.padding_idx] = 0

    def forward(self, input):
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type, self.scale_grad_by_freq,
                           self.sparse)

    @classmethod
    def from_pretrained(cls, embeddings, freeze=True, padding_idx=None, max_norm=None, norm_type=2.0,
                        scale_grad_by_freq=False, sparse=False) -> "Embedding":
        """An Embedding whose weight is a copy of the 2-D ``embeddings`` (float32); ``freeze`` stops its gradient.
        Unlike a fresh layer, the padding row keeps its pretrained values (as torch)."""
        matrix = embeddings.data if isinstance(embeddings, Tensor) else np.asarray(embeddings)
        if matrix.ndim != 2:
            raise ValueError(f"Embedding.from_pretrained: embeddings must be 2-D, got shape {matrix.shape}")
        return cls(matrix.shape[0], matrix.shape[1], padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse,
                   _weight=matrix, _freeze=freeze)

    def extra_repr(self) -> str:
        text = f"{self.num_embeddings}, {self.embedding_dim}"
        if self.padding_idx is not None:
            text += f", padding_idx={self.padding_idx}"
        if self.sparse:
            text += ", sparse=True"
        return text
