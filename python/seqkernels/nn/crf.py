"""``CRF``: a linear-chain conditional random field layer over per-token tag scores (emissions), for
sequence labelling (a BiLSTM-CRF tagger). Batch first. Parameters as pytorch-crf's ``CRF`` (Lafferty et al.
2001; Lample et al. 2016): ``transitions`` (num_tags, num_tags) indexed [from, to], ``start_transitions`` and
``end_transitions`` (num_tags), initialised U(-0.1, 0.1).

    crf = nn.CRF(num_tags)
    loss = crf(emissions, tags, lengths=lengths)        # mean negative log-likelihood (reduction='mean')
    paths = crf.decode(emissions, lengths=lengths)      # Viterbi: one list of tag ids per sequence

Sequence b is its first ``lengths[b]`` steps (or the True prefix of ``mask[b]``); padding is never read.
The forward algorithm, its gradient and Viterbi run in the C++ kernels (``ops/crf.py``).
"""
from __future__ import annotations

from typing import List

import numpy as np

from ..autograd import Function
from ..ops import crf as C
from ..tensor import Tensor
from . import init
from .linear import _positive_int
from .module import Module
from .parameter import Parameter

_REDUCTIONS = ("none", "sum", "mean", "token_mean")


class CRFNegLogLikelihood(Function):
    """nll (B) of tags under emissions and the CRF weights, differentiable in emissions and the weights."""

    @staticmethod
    def forward(ctx, emissions, transitions, start, end, tags, lengths):
        nll, log_alpha, log_z = C.crf_forward(emissions, tags, lengths, transitions, start, end)
        ctx.saved = (emissions, tags, lengths, log_alpha, log_z, transitions, start, end)
        return nll

    @staticmethod
    def backward(ctx, dy):
        return C.crf_backward(dy, *ctx.saved, needs=ctx.needs_input_grad[:4]) + (None, None)


def _raw(x):
    return x.data if isinstance(x, Tensor) else (None if x is None else np.asarray(x))


def lengths_from(emissions_shape, lengths=None, mask=None) -> np.ndarray:
    """Per-sequence lengths (B,) int64 from ``lengths`` or a prefix ``mask`` (B, T); all T when neither."""
    batch, steps = emissions_shape[:2]
    if lengths is not None and mask is not None:
        raise ValueError("CRF: give either 'lengths' or 'mask', not both")
    if mask is not None:
        m = _raw(mask).astype(bool)
        if m.shape != (batch, steps):
            raise ValueError(f"CRF: argument 'mask' must be (batch, steps) = {(batch, steps)}, got {m.shape}")
        lengths = m.sum(axis=1)
        if not np.array_equal(m, np.arange(steps)[None, :] < lengths[:, None]):
            raise ValueError("CRF: argument 'mask' must be True on a prefix of each row and False after it")
    if lengths is None:
        return np.full(batch, steps, dtype=np.int64)
    lengths = _raw(lengths)
    if lengths.dtype.kind not in "iu":
        raise TypeError(f"CRF: argument 'lengths' must hold integers, got {lengths.dtype}")
    return lengths.astype(np.int64)


class CRF(Module):
    def __init__(self, num_tags: int):
        super().__init__()
        self.num_tags = _positive_int(num_tags, "CRF", "num_tags")
        self.transitions = Parameter(np.empty((self.num_tags, self.num_tags), np.float32))
        self.start_transitions = Parameter(np.empty(self.num_tags, np.float32))
        self.end_transitions = Parameter(np.empty(self.num_tags, np.float32))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for p in (self.transitions, self.start_transitions, self.end_transitions):
            init.uniform_(p, -0.1, 0.1)

    def extra_repr(self) -> str:
        return f"num_tags={self.num_tags}"

    def _emissions(self, emissions) -> Tensor:
        emissions = emissions if isinstance(emissions, Tensor) else Tensor(np.asarray(emissions, np.float32))
        if emissions.ndim != 3 or emissions.shape[2] != self.num_tags:
            raise ValueError(f"CRF: argument 'emissions' must be (batch, steps, {self.num_tags}), got "
                             f"{tuple(emissions.shape)}")
        return emissions

    def forward(self, emissions, tags, lengths=None, mask=None, reduction: str = "mean") -> Tensor:
        """Negative log-likelihood of ``tags`` (B, T): per sequence ('none'), summed ('sum'), averaged over
        sequences ('mean') or over real tokens ('token_mean')."""
        if reduction not in _REDUCTIONS:
            raise ValueError(f"CRF: argument 'reduction' must be one of {_REDUCTIONS}, got {reduction!r}")
        emissions = self._emissions(emissions)
        n = lengths_from(emissions.shape, lengths, mask)
        nll = CRFNegLogLikelihood.apply(emissions, self.transitions, self.start_transitions, self.end_transitions,
                                        _raw(tags), n)
        if reduction == "none":
            return nll
        if reduction == "sum":
            return nll.sum()
        return nll.sum() / float(len(n) if reduction == "mean" else n.sum())

    def decode(self, emissions, lengths=None, mask=None) -> List[List[int]]:
        """The Viterbi path of each sequence, cut to its length."""
        emissions = self._emissions(emissions)
        n = lengths_from(emissions.shape, lengths, mask)
        best, _ = C.crf_viterbi(emissions.data, n, self.transitions.data, self.start_transitions.data,
                                self.end_transitions.data)
        return [row[:k].tolist() for row, k in zip(best, n)]
