"""Autoregressive generation for encoder-decoder models: greedy, sampling (temperature, top-k) and beam search,
batched over sentences, each step one new token per row against the model's decoding state (a key/value cache
or a recurrent state), never a recomputation of the prefix.

A model mixes in ``GenerationMixin`` and provides, over numpy arrays:

    _start(src)            -> state for the N rows of ``src`` (encodes it once)
    _step(state, tokens)   -> logits (rows, V) of the next token after ``tokens`` (rows,), advancing state
    _reorder(state, rows)  -> keeps the state's rows ``rows`` (in that order; repeats allowed)
    pad_id, bos_id, eos_id

Scores: a hypothesis of n generated tokens (its EOS included) scores sum(log p) / n ** length_penalty.
"""
from __future__ import annotations

import heapq
import math
from typing import List, Optional

import numpy as np

from ..autograd import no_grad
from ..random import generator


def _log_softmax(logits: np.ndarray) -> np.ndarray:
    top = logits.max(axis=-1, keepdims=True)
    shifted = logits - np.where(np.isfinite(top), top, 0)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def _check(value, name: str, kind, minimum=None):
    if isinstance(value, bool) or not isinstance(value, kind):
        raise TypeError(f"generate: argument '{name}' must be {kind.__name__ if isinstance(kind, type) else 'a number'}"
                        f", got {type(value).__name__}")
    if minimum is not None and value < minimum:
        raise ValueError(f"generate: argument '{name}' must be >= {minimum}, got {value}")
    return value


class GenerationMixin:
    """``generate`` for models with ``_start`` / ``_step`` / ``_reorder`` (see the module docstring)."""

    def _logprobs(self, state, tokens: np.ndarray) -> np.ndarray:
        logits = np.asarray(self._step(state, tokens), dtype=np.float32)
        logits[:, [self.pad_id, self.bos_id]] = -np.inf  # never generated
        return logits

    def generate(self, src, max_new_tokens: int = 64, num_beams: int = 1, length_penalty: float = 1.0,
                 eos_token_id: Optional[int] = None, do_sample: bool = False, temperature: float = 1.0,
                 top_k: int = 0, early_stopping: bool = True, return_scores: bool = False):
        """Translations of the source rows ``src`` (N, S) (ids, padded with ``pad_id``): an int64 array (N, T) of
        generated ids (the start token left out, EOS kept, ``pad_id`` after it), T <= ``max_new_tokens``.

        num_beams=1: greedy (or sampling with ``do_sample``: logits / ``temperature``, restricted to the
        ``top_k`` best when top_k > 0). num_beams > 1: beam search; a beam that emits EOS is finished, and a
        sentence stops when ``num_beams`` of its hypotheses are (``early_stopping=True``), or, with
        ``early_stopping=False``, when no live beam can still beat its worst finished one under the length
        penalty (an exact bound, so with enough beams the result is the best hypothesis overall). The best
        hypothesis is returned; ``return_scores`` also returns its score (see the module docstring)."""
        src = np.asarray(src.data if hasattr(src, "data") and not isinstance(src, np.ndarray) else src)
        if src.dtype.kind not in "iu" or src.ndim != 2 or src.shape[0] == 0 or src.shape[1] == 0:
            raise ValueError(f"generate: argument 'src' must be integer ids of shape (N >= 1, S >= 1), "
                             f"got {src.dtype} {src.shape}")
        max_new_tokens = _check(max_new_tokens, "max_new_tokens", (int, np.integer), 1)
        num_beams = _check(num_beams, "num_beams", (int, np.integer), 1)
        top_k = _check(top_k, "top_k", (int, np.integer), 0)
        length_penalty = float(_check(length_penalty, "length_penalty", (int, float)))
        temperature = float(_check(temperature, "temperature", (int, float)))
        if do_sample and not temperature > 0:
            raise ValueError(f"generate: argument 'temperature' must be > 0, got {temperature}")
        if do_sample and num_beams > 1:
            raise ValueError("generate: sampling (do_sample=True) takes num_beams=1")
        eos = self.eos_id if eos_token_id is None else int(eos_token_id)
        was_training = self.training
        self.eval()
        try:
            with no_grad():
                if num_beams == 1:
                    seqs, scores = self._greedy(src, max_new_tokens, eos, length_penalty, do_sample, temperature,
                                                top_k)
                else:
                    seqs, scores = self._beam(src, max_new_tokens, num_beams, eos, length_penalty, early_stopping)
        finally:
            self.train(was_training)
        out = self._pack(seqs)
        return (out, np.asarray(scores, dtype=np.float64)) if return_scores else out

    def _pack(self, seqs: List[list]) -> np.ndarray:
        """Token lists as one (N, longest) int64 array padded with pad_id."""
        out = np.full((len(seqs), max(len(s) for s in seqs)), self.pad_id, dtype=np.int64)
        for i, s in enumerate(seqs):
            out[i, :len(s)] = s
        return out

    def _greedy(self, src, max_new_tokens, eos, length_penalty, do_sample, temperature, top_k):
        n = src.shape[0]
        state = self._start(src)
        active = np.arange(n)  # sentences still decoding, in the state's row order
        tokens = np.full(n, self.bos_id, dtype=np.int64)
        seqs: List[list] = [[] for _ in range(n)]
        logp_sum = np.zeros(n)
        rng = generator() if do_sample else None
        for _ in range(max_new_tokens):
            logits = self._logprobs(state, tokens)
            logp = _log_softmax(logits)
            if do_sample:
                scaled = logits / temperature
                if 0 < top_k < scaled.shape[1]:
                    kth = np.partition(scaled, -top_k, axis=1)[:, -top_k][:, None]
                    scaled = np.where(scaled >= kth, scaled, -np.inf)
                probs = np.exp(_log_softmax(scaled))
                nxt = np.array([rng.choice(probs.shape[1], p=p / p.sum()) for p in probs], dtype=np.int64)
            else:
                nxt = logp.argmax(axis=1)
            for row, sent in enumerate(active):
                seqs[sent].append(int(nxt[row]))
                logp_sum[sent] += logp[row, nxt[row]]
            live = nxt != eos
            if not live.all():
                if not live.any():
                    break
                self._reorder(state, np.flatnonzero(live))
                active, nxt = active[live], nxt[live]
            tokens = nxt
        scores = [logp_sum[i] / len(s) ** length_penalty for i, s in enumerate(seqs)]
        return seqs, scores

    def _beam(self, src, max_new_tokens, beams, eos, length_penalty, early_stopping):
        n = src.shape[0]
        state = self._start(src)
        rows = np.repeat(np.arange(n), beams)
        self._reorder(state, rows)
        active = list(range(n))  # sentences still searching; the state holds `beams` rows for each
        hyps = [[[] for _ in range(beams)] for _ in range(n)]  # live beams' tokens
        beam_logp = np.full((n, beams), -np.inf)
        beam_logp[:, 0] = 0.0  # one live beam at the start, so the first step does not repeat it
        finished: List[list] = [[] for _ in range(n)]  # min-heaps of (score, order, tokens), at most `beams`
        order = 0
        tokens = np.full(n * beams, self.bos_id, dtype=np.int64)
        for step in range(1, max_new_tokens + 1):
            logp = _log_softmax(self._logprobs(state, tokens))  # (len(active) * beams, V)
            vocab = logp.shape[1]
            keep_rows, next_tokens, still = [], [], []
            for a, sent in enumerate(active):
                total = (beam_logp[sent][:, None] + logp[a * beams:(a + 1) * beams]).reshape(-1)
                top = min(2 * beams, total.size)
                best = np.argpartition(-total, top - 1)[:top]
                best = best[np.argsort(-total[best], kind="stable")]
                new_hyps, new_logp, new_rows, new_tokens = [], [], [], []
                for rank, flat in enumerate(best):
                    if not np.isfinite(total[flat]):
                        break
                    beam, token = divmod(int(flat), vocab)
                    seq = hyps[sent][beam] + [token]
                    if token == eos or step == max_new_tokens:
                        if token == eos and rank >= beams:
                            continue  # an EOS below the beams' ranks is not a beam's continuation
                        score = total[flat] / step ** length_penalty
                        order += 1
                        entry = (score, -order, seq)
                        if len(finished[sent]) < beams:
                            heapq.heappush(finished[sent], entry)
                        elif score > finished[sent][0][0]:
                            heapq.heapreplace(finished[sent], entry)
                        continue
                    if len(new_hyps) < beams:
                        new_hyps.append(seq)
                        new_logp.append(total[flat])
                        new_rows.append(a * beams + beam)
                        new_tokens.append(token)
                if step == max_new_tokens or not new_hyps:
                    continue  # every hypothesis of this sentence is finished
                if len(finished[sent]) >= beams:
                    if early_stopping:
                        continue
                    worst = finished[sent][0][0]
                    best_live = max(new_logp)
                    # the best score a live beam can still reach (log-probs only fall as it grows)
                    if length_penalty > 0:
                        bound = best_live / max_new_tokens ** length_penalty
                    else:
                        bound = best_live / (step + 1) ** length_penalty
                    if bound <= worst:
                        continue
                while len(new_hyps) < beams:  # fewer live candidates than beams: pad with dead copies
                    new_hyps.append(new_hyps[0])
                    new_logp.append(-np.inf)
                    new_rows.append(new_rows[0])
                    new_tokens.append(new_tokens[0])
                hyps[sent] = new_hyps
                beam_logp[sent] = new_logp
                keep_rows.extend(new_rows)
                next_tokens.extend(new_tokens)
                still.append(sent)
            if not still:
                break
            self._reorder(state, np.asarray(keep_rows, dtype=np.int64))
            active = still
            tokens = np.asarray(next_tokens, dtype=np.int64)
        seqs, scores = [], []
        for sent in range(n):
            score, _, seq = max(finished[sent])
            seqs.append(seq)
            scores.append(score)
        return seqs, scores


def sinusoidal_positions(length: int, dim: int) -> np.ndarray:
    """The (length, dim) sinusoidal position table of "Attention is all you need": sin on even features,
    cos on odd ones, wavelengths from 2 pi to 10000 * 2 pi."""
    position = np.arange(length, dtype=np.float64)[:, None]
    rate = np.exp(-math.log(10000.0) * np.arange(0, dim, 2, dtype=np.float64) / dim)
    table = np.zeros((length, dim), dtype=np.float64)
    table[:, 0::2] = np.sin(position * rate)
    table[:, 1::2] = np.cos(position * rate[: dim // 2])
    return table.astype(np.float32)
