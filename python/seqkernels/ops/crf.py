"""Linear-chain CRF on the C++ kernels (``csrc/cpu/crf.cpp``): negative log-likelihood by the forward
algorithm, its gradient from forward-backward marginals, Viterbi decoding.

Array level (numpy in, numpy out; the op-layer convention): emissions (B, T, K) float32, tags (B, T) ints,
lengths (B) ints in [1, T] (each sequence is its first lengths[b] steps; None: all T), transitions (K, K)
indexed [from, to], start and end (K)."""
from __future__ import annotations

import numpy as np

from .. import _C
from ._checks import float32_array, index_array


def _lengths(lengths, emissions: np.ndarray, op: str) -> np.ndarray:
    if emissions.ndim != 3:
        raise ValueError(f"{op}: argument 'emissions' must be (batch, steps, tags), got shape {emissions.shape}")
    if lengths is None:
        return np.full(emissions.shape[0], emissions.shape[1], dtype=np.int64)
    return index_array(lengths, op, "lengths").astype(np.int64, copy=False)


def crf_forward(emissions, tags, lengths, transitions, start, end):
    """nll[b] = log Z_b - score_b(tags[b]). -> (nll (B),) + saved (log_alpha (B, T, K), log_z (B))."""
    op = "crf"
    e = float32_array(emissions, op, "emissions")
    n = _lengths(lengths, e, op)
    y = index_array(tags, op, "tags")
    nll, log_alpha, log_z = _C.crf_forward(e, y, n, float32_array(transitions, op, "transitions"),
                                           float32_array(start, op, "start_transitions"),
                                           float32_array(end, op, "end_transitions"))
    return nll, log_alpha, log_z


def crf_backward(dy, emissions, tags, lengths, log_alpha, log_z, transitions, start, end,
                 needs=(True, True, True, True)):
    """dy (B): the gradient of nll. needs: (emissions, transitions, start, end).
    -> (d_emissions, d_transitions, d_start, d_end), None where not wanted."""
    e = float32_array(emissions, "crf_backward", "emissions")
    n = _lengths(lengths, e, "crf_backward")
    weights = any(needs[1:])
    de, dt, ds, dn = _C.crf_backward(np.ascontiguousarray(dy, dtype=np.float32), e, index_array(tags, "crf", "tags"),
                                     n, log_alpha, log_z, transitions, start, end, bool(needs[0]), weights)
    return de, dt if needs[1] else None, ds if needs[2] else None, dn if needs[3] else None


def crf_viterbi(emissions, lengths, transitions, start, end):
    """-> (best tags (B, T) int64 with -1 on padding, their scores (B))."""
    op = "crf_decode"
    e = float32_array(emissions, op, "emissions")
    return _C.crf_viterbi(e, _lengths(lengths, e, op), float32_array(transitions, op, "transitions"),
                          float32_array(start, op, "start_transitions"), float32_array(end, op, "end_transitions"))
