"""Encoder-decoder models for translation: ``Seq2SeqTransformer`` and ``Seq2SeqLSTM``.

Both take source ids (N, S) and teacher-forced target ids (N, T) (the target shifted right, starting with
``bos_id``), padded with ``pad_id`` at the end, and return next-token logits (N, T, V); so they train with
``model.compile(loss=SparseCategoricalCrossentropy(from_logits=True, ignore_class=pad_id))`` and
``model.fit([src, tgt_in], tgt_out)``. ``generate`` (greedy, sampling, beam search) decodes one token per step
against a cache: the Transformer's per-layer keys and values, the LSTM's recurrent state.
"""
from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from ..nn import init
from ..nn import LSTM, Dropout, Embedding, Linear, LSTMCell, Module, Transformer
from ..tensor_functions import cat
from ..tensor import Tensor
from .generation import GenerationMixin, sinusoidal_positions
from .rnn import real_spans


def _ids(x, name: str, model: str) -> np.ndarray:
    ids = np.asarray(x.data if isinstance(x, Tensor) else x)
    if ids.dtype.kind not in "iu" or ids.ndim != 2 or 0 in ids.shape:
        raise ValueError(f"{model}: argument '{name}' must be integer ids of shape (N >= 1, L >= 1), "
                         f"got {ids.dtype} {ids.shape}")
    return ids.astype(np.int64, copy=False)


class _Seq2Seq(GenerationMixin, Module):
    """Embeddings and special ids shared by the two models."""

    def __init__(self, src_vocab_size: int, tgt_vocab_size, dim: int, share_embeddings: bool, pad_id: int,
                 bos_id: int, eos_id: int):
        super().__init__()
        tgt_vocab_size = src_vocab_size if tgt_vocab_size is None else tgt_vocab_size
        name = type(self).__name__
        if share_embeddings and tgt_vocab_size != src_vocab_size:
            raise ValueError(f"{name}: share_embeddings needs one vocabulary, got sizes {src_vocab_size} and "
                             f"{tgt_vocab_size}")
        for key, value in (("pad_id", pad_id), ("bos_id", bos_id), ("eos_id", eos_id)):
            if not 0 <= value < tgt_vocab_size:
                raise ValueError(f"{name}: argument '{key}' must be in [0, {tgt_vocab_size}), got {value}")
        self.pad_id, self.bos_id, self.eos_id = int(pad_id), int(bos_id), int(eos_id)
        self.share_embeddings = bool(share_embeddings)
        self.src_embed = Embedding(src_vocab_size, dim, padding_idx=pad_id)
        if not self.share_embeddings:
            self.tgt_embed = Embedding(tgt_vocab_size, dim, padding_idx=pad_id)
        self.src_vocab_size, self.tgt_vocab_size = int(src_vocab_size), int(tgt_vocab_size)

    @property
    def target_embedding(self) -> Embedding:
        return self.src_embed if self.share_embeddings else self.tgt_embed


class _TransformerState:
    __slots__ = ("cache", "position")

    def __init__(self, cache):
        self.cache, self.position = cache, 0


class Seq2SeqTransformer(_Seq2Seq):
    """Token embeddings (scaled by sqrt(d_model)) plus sinusoidal or learned positions, an ``nn.Transformer``
    (``transformer``, batch_first) and a Linear ``generator`` to the target vocabulary. Submodules: src_embed,
    tgt_embed (absent with ``share_embeddings``), pos_embed (learned positions only), transformer, generator.
    Token embeddings start N(0, 1/d_model) (fairseq's choice), so that scaled by sqrt(d_model) they are of the
    positions' size."""

    def __init__(self, src_vocab_size: int, tgt_vocab_size=None, d_model: int = 256, nhead: int = 4,
                 num_encoder_layers: int = 3, num_decoder_layers: int = 3, dim_feedforward: int = 1024,
                 dropout: float = 0.1, activation="relu", norm_first: bool = True, positions: str = "sinusoidal",
                 max_len: int = 512, share_embeddings: bool = False, pad_id: int = 0, bos_id: int = 1,
                 eos_id: int = 2):
        super().__init__(src_vocab_size, tgt_vocab_size, d_model, share_embeddings, pad_id, bos_id, eos_id)
        if positions not in ("sinusoidal", "learned"):
            raise ValueError(f"Seq2SeqTransformer: argument 'positions' must be 'sinusoidal' or 'learned', "
                             f"got {positions!r}")
        self.positions, self.max_len, self.d_model = positions, int(max_len), int(d_model)
        if positions == "learned":
            self.pos_embed = Embedding(self.max_len, d_model)
        else:
            self._table = sinusoidal_positions(self.max_len, d_model)
        self.transformer = Transformer(d_model, nhead, num_encoder_layers, num_decoder_layers, dim_feedforward,
                                       dropout, activation, batch_first=True, norm_first=norm_first)
        self.generator = Linear(d_model, self.tgt_vocab_size)
        self.dropout = Dropout(dropout)
        self._scale = math.sqrt(d_model)
        for embedding in {id(e): e for e in (self.src_embed, self.target_embedding)}.values():
            init.normal_(embedding.weight, 0.0, d_model ** -0.5)
            embedding.weight.data[self.pad_id] = 0

    def _embed(self, embedding: Embedding, ids: np.ndarray, offset: int):
        if offset + ids.shape[1] > self.max_len:
            raise ValueError(f"Seq2SeqTransformer: positions up to {offset + ids.shape[1]} exceed max_len="
                             f"{self.max_len}")
        span = np.arange(offset, offset + ids.shape[1])
        position = self.pos_embed(span) if self.positions == "learned" else Tensor(self._table[span])
        return self.dropout(embedding(ids) * self._scale + position)

    def encode(self, src):
        """(memory (N, S, d_model), source padding mask (N, S), True = padding)."""
        src = _ids(src, "src", "Seq2SeqTransformer")
        padding = src == self.pad_id
        memory = self.transformer.encoder(self._embed(self.src_embed, src, 0), src_key_padding_mask=padding)
        return memory, padding

    def forward(self, src, tgt):
        """Next-token logits (N, T, V) for the teacher-forced target ``tgt`` (N, T)."""
        tgt = _ids(tgt, "tgt", "Seq2SeqTransformer")
        memory, padding = self.encode(src)
        if memory.shape[0] != tgt.shape[0]:
            raise ValueError(f"Seq2SeqTransformer: src has {memory.shape[0]} rows but tgt {tgt.shape[0]}")
        causal = Transformer.generate_square_subsequent_mask(tgt.shape[1])
        out = self.transformer.decoder(self._embed(self.target_embedding, tgt, 0), memory, tgt_mask=causal,
                                       tgt_is_causal=True, memory_key_padding_mask=padding)
        return self.generator(out)

    # ---- incremental decoding (see generation.py) ----
    def _start(self, src):
        memory, padding = self.encode(src)
        return _TransformerState(self.transformer.decoder.init_cache(memory, padding))

    def _step(self, state: _TransformerState, tokens: np.ndarray) -> np.ndarray:
        x = self._embed(self.target_embedding, tokens[:, None], state.position)
        state.position += 1
        return self.generator(self.transformer.decoder.forward_cached(x, state.cache)).data[:, 0]

    def _reorder(self, state: _TransformerState, rows: np.ndarray) -> None:
        state.cache.reorder(rows)


class _LSTMState:
    __slots__ = ("h", "c", "memory", "keys", "mask")

    def __init__(self, h, c, memory, keys, mask):
        self.h, self.c, self.memory, self.keys, self.mask = h, c, memory, keys, mask


class Seq2SeqLSTM(_Seq2Seq):
    """A bidirectional LSTM encoder and an LSTM decoder with attention over the encoder's states.

        encoder:  embed -> biLSTM (``encoder_layers``) over each row's real tokens -> memory = Linear(2H -> H)
        bridge:   decoder state h0, c0 = tanh(Linear([h_fwd; h_bwd])), tanh(Linear([c_fwd; c_bwd]))
        luong:    h_t = LSTM(embed(y_{t-1})); a_t = softmax(h_t W_a memoryᵀ) ("general" score)
        bahdanau: a_t = softmax(vᵀ tanh(W_q h_{t-1} + W_k memory)); h_t = LSTMCell([embed(y_{t-1}); ctx_t])
        output:   ctx_t = a_t memory; logits = generator(dropout(tanh(combine([h_t; ctx_t]))))

    Luong's decoder runs the fused LSTM kernel over the whole target in training; Bahdanau's is one cell step
    per position (its attention reads the previous state)."""

    def __init__(self, src_vocab_size: int, tgt_vocab_size=None, embed_dim: int = 256, hidden_size: int = 256,
                 encoder_layers: int = 1, attention: str = "luong", dropout: float = 0.1,
                 share_embeddings: bool = False, pad_id: int = 0, bos_id: int = 1, eos_id: int = 2):
        super().__init__(src_vocab_size, tgt_vocab_size, embed_dim, share_embeddings, pad_id, bos_id, eos_id)
        if attention not in ("luong", "bahdanau"):
            raise ValueError(f"Seq2SeqLSTM: argument 'attention' must be 'luong' or 'bahdanau', got {attention!r}")
        H = int(hidden_size)
        self.attention, self.hidden_size = attention, H
        self.encoder = LSTM(embed_dim, H, num_layers=encoder_layers, batch_first=True, bidirectional=True,
                            dropout=dropout if encoder_layers > 1 else 0.0)
        self.bridge_h = Linear(2 * H, H)
        self.bridge_c = Linear(2 * H, H)
        self.memory_proj = Linear(2 * H, H)
        if attention == "luong":
            self.attn_w = Linear(H, H, bias=False)
            self.decoder = LSTM(embed_dim, H, batch_first=True)
        else:
            self.attn_q = Linear(H, H, bias=False)
            self.attn_k = Linear(H, H)
            self.attn_v = Linear(H, 1, bias=False)
            self.decoder_cell = LSTMCell(embed_dim + H, H)
        self.combine = Linear(2 * H, H)
        self.generator = Linear(H, self.tgt_vocab_size)
        self.dropout = Dropout(dropout)

    def _encode(self, src) -> _LSTMState:
        src = _ids(src, "src", "Seq2SeqLSTM")
        _, lengths = real_spans(src, self.pad_id)
        out, (h_n, c_n) = self.encoder(self.dropout(self.src_embed(src)), lengths=lengths)
        h = self.bridge_h(cat([h_n[-2], h_n[-1]], 1)).tanh()
        c = self.bridge_c(cat([c_n[-2], c_n[-1]], 1)).tanh()
        memory = self.memory_proj(out)  # (N, S, H)
        mask = np.arange(src.shape[1])[None, :] < lengths[:, None]  # True = a real source token
        keys = self.attn_w(memory) if self.attention == "luong" else self.attn_k(memory)
        return _LSTMState(h, c, memory, keys, mask)

    def _luong_context(self, state: _LSTMState, h):
        """Context vectors (N, T, H) for the decoder states h (N, T, H)."""
        out = F.scaled_dot_product_attention(h.unsqueeze(1), state.keys.unsqueeze(1), state.memory.unsqueeze(1),
                                             attn_mask=state.mask[:, None, None, :], scale=1.0)
        return out.squeeze(1)

    def _bahdanau_step(self, state: _LSTMState, embedded):
        """One decoder step from the previous state and the embedded input (N, E): returns (h, ctx)."""
        energy = self.attn_v((self.attn_q(state.h).unsqueeze(1) + state.keys).tanh()).squeeze(2)  # (N, S)
        weights = energy.masked_fill(~state.mask, float("-inf")).softmax(-1)
        ctx = weights.unsqueeze(1).matmul(state.memory).squeeze(1)  # (N, H)
        state.h, state.c = self.decoder_cell(cat([embedded, ctx], 1), (state.h, state.c))
        return state.h, ctx

    def _output(self, h, ctx):
        return self.generator(self.dropout(self.combine(cat([h, ctx], -1)).tanh()))

    def forward(self, src, tgt):
        """Next-token logits (N, T, V) for the teacher-forced target ``tgt`` (N, T)."""
        tgt = _ids(tgt, "tgt", "Seq2SeqLSTM")
        state = self._encode(src)
        if state.mask.shape[0] != tgt.shape[0]:
            raise ValueError(f"Seq2SeqLSTM: src has {state.mask.shape[0]} rows but tgt {tgt.shape[0]}")
        embedded = self.dropout(self.target_embedding(tgt))
        if self.attention == "luong":
            h, _ = self.decoder(embedded, (state.h.unsqueeze(0), state.c.unsqueeze(0)))
            return self._output(h, self._luong_context(state, h))
        steps = [self._bahdanau_step(state, embedded[:, t]) for t in range(tgt.shape[1])]
        h = cat([s[0].unsqueeze(1) for s in steps], 1)
        ctx = cat([s[1].unsqueeze(1) for s in steps], 1)
        return self._output(h, ctx)

    # ---- incremental decoding (see generation.py): the cache is the recurrent state ----
    def _start(self, src):
        return self._encode(src)

    def _step(self, state: _LSTMState, tokens: np.ndarray) -> np.ndarray:
        embedded = self.target_embedding(tokens)
        if self.attention == "luong":
            h, (h_n, c_n) = self.decoder(embedded.unsqueeze(1), (state.h.unsqueeze(0), state.c.unsqueeze(0)))
            state.h, state.c = h_n[0], c_n[0]
            return self._output(h, self._luong_context(state, h)).data[:, 0]
        h, ctx = self._bahdanau_step(state, embedded)
        return self._output(h, ctx).data

    def _reorder(self, state: _LSTMState, rows: np.ndarray) -> None:
        state.h, state.c = Tensor(state.h.data[rows]), Tensor(state.c.data[rows])
        state.memory, state.keys = Tensor(state.memory.data[rows]), Tensor(state.keys.data[rows])
        state.mask = state.mask[rows]
