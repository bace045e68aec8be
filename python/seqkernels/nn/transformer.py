"""``TransformerEncoderLayer``, ``TransformerEncoder``, ``TransformerDecoderLayer``, ``TransformerDecoder`` and
``Transformer`` with torch.nn's parameter names, arguments and semantics (post-norm by default, ``norm_first`` for
pre-norm; relu or gelu), on the fused attention kernel.

Incremental decoding: ``TransformerDecoder.init_cache(memory)`` projects the memory's keys and values once per
layer, then ``TransformerDecoder.forward_cached(tgt_new, cache)`` runs only the new target positions, each new
query against the cached keys and values of every earlier position (O(L) per step instead of recomputing the
prefix); ``cache.reorder(rows)`` follows beam search's choice of rows."""
from __future__ import annotations

import copy
from typing import List, Optional

import numpy as np

from .. import functional as F
from ..autograd import no_grad
from ..tensor import Tensor
from .container import ModuleList
from .dropout import Dropout
from .attention import MultiheadAttention
from .linear import Linear, _positive_int
from .module import Module
from .normalization import LayerNorm
from . import init


def _activation(activation):
    if activation == "relu":
        return lambda x: x.relu()
    if activation == "gelu":
        return F.gelu
    if callable(activation):
        return activation
    raise ValueError(f"Transformer layers: activation must be 'relu', 'gelu' or a callable, got {activation!r}")


class TransformerEncoderLayer(Module):
    """Self-attention then a feed-forward block, each with dropout, a residual and a LayerNorm:

        norm_first=False:  x = norm1(x + sa(x));  x = norm2(x + ff(x))
        norm_first=True:   x = x + sa(norm1(x));  x = x + ff(norm2(x))

    with ff(x) = linear2(dropout(activation(linear1(x)))). Submodules: self_attn, linear1, dropout,
    linear2, norm1, norm2, dropout1, dropout2 (torch's names, so its state_dict loads)."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation="relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True):
        super().__init__()
        d_model = _positive_int(d_model, "TransformerEncoderLayer", "d_model")
        dim_feedforward = _positive_int(dim_feedforward, "TransformerEncoderLayer", "dim_feedforward")
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.activation = _activation(activation)
        self.batch_first = bool(batch_first)

    def _sa_block(self, x, attn_mask, key_padding_mask, is_causal):
        x = self.self_attn(x, x, x, attn_mask=attn_mask, key_padding_mask=key_padding_mask, need_weights=False,
                           is_causal=is_causal)[0]
        return self.dropout1(x)

    def _ff_block(self, x):
        return self.dropout2(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def forward(self, src, src_mask=None, src_key_padding_mask=None, is_causal: bool = False):
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x


class TransformerEncoder(Module):
    """``num_layers`` copies of ``encoder_layer`` (as ``layers.0``, ``layers.1``, ...) then an optional ``norm``."""

    def __init__(self, encoder_layer: TransformerEncoderLayer, num_layers: int, norm=None):
        super().__init__()
        num_layers = _positive_int(num_layers, "TransformerEncoder", "num_layers")
        self.layers = ModuleList([copy.deepcopy(encoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, src, mask=None, src_key_padding_mask=None, is_causal: bool = False):
        x = src
        for layer in self.layers:
            x = layer(x, src_mask=mask, src_key_padding_mask=src_key_padding_mask, is_causal=is_causal)
        return x if self.norm is None else self.norm(x)


def generate_square_subsequent_mask(sz: int) -> Tensor:
    """The (sz, sz) float32 causal mask torch's ``Transformer.generate_square_subsequent_mask`` gives:
    0 on and below the diagonal, -inf above it (added to the scores: position i sees positions <= i)."""
    sz = _positive_int(sz, "generate_square_subsequent_mask", "sz")
    return Tensor(np.triu(np.full((sz, sz), -np.inf, dtype=np.float32), 1))


def _is_causal_mask(mask, size: int) -> bool:
    """torch's _detect_is_causal_mask: is ``mask`` exactly the (size, size) causal mask (float or bool)?"""
    array = mask.data if isinstance(mask, Tensor) else np.asarray(mask)
    if array.shape != (size, size):
        return False
    blocked = np.triu(np.ones((size, size), dtype=bool), 1)
    if array.dtype == np.bool_:
        return bool(np.array_equal(array, blocked))
    return bool(np.array_equal(array, np.where(blocked, -np.inf, 0.0)))


def _seq_len(x, batch_first: bool) -> int:
    return x.shape[0] if x.ndim == 2 or not batch_first else x.shape[1]


class TransformerDecoderLayer(Module):
    """Self-attention, cross-attention over the encoder's ``memory``, then a feed-forward block, each with
    dropout, a residual and a LayerNorm:

        norm_first=False:  x = norm1(x + sa(x));  x = norm2(x + mha(x, memory));  x = norm3(x + ff(x))
        norm_first=True:   x = x + sa(norm1(x));  x = x + mha(norm2(x), memory);  x = x + ff(norm3(x))

    Submodules (torch's names): self_attn, multihead_attn, linear1, dropout, linear2, norm1, norm2, norm3,
    dropout1, dropout2, dropout3. ``tgt_is_causal=True`` says ``tgt_mask`` is the causal mask (as torch, the
    kernel then masks by position instead of reading the mask); without a ``tgt_mask`` it asks for the causal
    mask (torch raises there)."""

    def __init__(self, d_model: int, nhead: int, dim_feedforward: int = 2048, dropout: float = 0.1,
                 activation="relu", layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True):
        super().__init__()
        d_model = _positive_int(d_model, "TransformerDecoderLayer", "d_model")
        dim_feedforward = _positive_int(dim_feedforward, "TransformerDecoderLayer", "dim_feedforward")
        self.self_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias, batch_first=batch_first)
        self.multihead_attn = MultiheadAttention(d_model, nhead, dropout=dropout, bias=bias,
                                                 batch_first=batch_first)
        self.linear1 = Linear(d_model, dim_feedforward, bias=bias)
        self.dropout = Dropout(dropout)
        self.linear2 = Linear(dim_feedforward, d_model, bias=bias)
        self.norm_first = bool(norm_first)
        self.norm1 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm2 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.norm3 = LayerNorm(d_model, eps=layer_norm_eps, bias=bias)
        self.dropout1 = Dropout(dropout)
        self.dropout2 = Dropout(dropout)
        self.dropout3 = Dropout(dropout)
        self.activation = _activation(activation)
        self.batch_first = bool(batch_first)

    def _ff_block(self, x):
        return self.dropout3(self.linear2(self.dropout(self.activation(self.linear1(x)))))

    def _blocks(self, x, sa, ca):
        """The layer around its two attention blocks (callables x -> block output before dropout)."""
        if self.norm_first:
            x = x + self.dropout1(sa(self.norm1(x)))
            x = x + self.dropout2(ca(self.norm2(x)))
            return x + self._ff_block(self.norm3(x))
        x = self.norm1(x + self.dropout1(sa(x)))
        x = self.norm2(x + self.dropout2(ca(x)))
        return self.norm3(x + self._ff_block(x))

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal: bool = False, memory_is_causal: bool = False):
        if tgt_is_causal and tgt_key_padding_mask is None:
            tgt_mask = None  # the hint: the kernel masks by position
        if memory_is_causal and memory_key_padding_mask is None:
            memory_mask = None

        def sa(x):
            return self.self_attn(x, x, x, attn_mask=tgt_mask, key_padding_mask=tgt_key_padding_mask,
                                  need_weights=False, is_causal=bool(tgt_is_causal))[0]

        def ca(x):
            return self.multihead_attn(x, memory, memory, attn_mask=memory_mask,
                                       key_padding_mask=memory_key_padding_mask, need_weights=False,
                                       is_causal=bool(memory_is_causal))[0]

        return self._blocks(tgt, sa, ca)

    def _forward_cached(self, x, cache: "DecoderCache", index: int):
        """x (N, t, E): the next t target positions, given the cache of the earlier ones (appended to)."""
        def sa(h):
            mha = self.self_attn
            q, k, v = (mha._heads(part) for part in mha._project(h, slice(0, 3 * mha.embed_dim))
                       .split(mha.embed_dim, dim=-1))
            keys, values = cache.append(index, k.data, v.data)
            # the new block's queries are the last positions: causal aligned bottom-right (a single new query
            # sees every key and needs no mask)
            out = F.scaled_dot_product_attention(q, Tensor(keys), Tensor(values), is_causal=q.shape[2] > 1,
                                                 causal_alignment="bottom_right")
            return mha.out_proj(out.transpose(1, 2).reshape(h.shape))

        def ca(h):
            mha = self.multihead_attn
            q = mha._heads(mha._project(h, slice(0, mha.embed_dim)))
            keys, values = cache.cross[index]
            out = F.scaled_dot_product_attention(q, keys, values, attn_mask=cache.memory_mask)
            return mha.out_proj(out.transpose(1, 2).reshape(h.shape))

        return self._blocks(x, sa, ca)


class DecoderCache:
    """What incremental decoding keeps per decoder layer: the memory's projected keys and values (N, H, S, D)
    and the self-attention keys and values of every target position so far, in buffers (N, H, capacity, D)
    that grow by doubling; the attention kernel reads their filled prefix in place (a strided view)."""

    def __init__(self, cross: List[tuple], memory_mask: Optional[np.ndarray]):
        self.cross = cross
        self.memory_mask = memory_mask  # (N, 1, 1, S) bool, True = attend; None: every key
        self.keys: List[Optional[np.ndarray]] = [None] * len(cross)
        self.values: List[Optional[np.ndarray]] = [None] * len(cross)
        self.lengths = [0] * len(cross)

    @property
    def length(self) -> int:
        """Target positions cached so far."""
        return self.lengths[-1]

    def append(self, index: int, keys: np.ndarray, values: np.ndarray):
        """Appends (N, H, t, D) keys and values to layer ``index``; returns views of all of them so far."""
        begin = self.lengths[index]
        end = begin + keys.shape[2]
        for store in (self.keys, self.values):
            buffer = store[index]
            if buffer is None or end > buffer.shape[2]:
                grown = np.empty(keys.shape[:2] + (max(16, end, 2 * begin),) + keys.shape[3:], dtype=np.float32)
                if buffer is not None:
                    grown[:, :, :begin] = buffer[:, :, :begin]
                store[index] = grown
        self.keys[index][:, :, begin:end] = keys
        self.values[index][:, :, begin:end] = values
        self.lengths[index] = end
        return self.keys[index][:, :, :end], self.values[index][:, :, :end]

    def reorder(self, rows) -> None:
        """Keeps the batch rows ``rows`` (in that order, repeats allowed): beam search's surviving beams."""
        rows = np.asarray(rows, dtype=np.int64)
        self.cross = [(Tensor(k.data[rows]), Tensor(v.data[rows])) for k, v in self.cross]
        if self.memory_mask is not None:
            self.memory_mask = self.memory_mask[rows]
        for store in (self.keys, self.values):
            for i, buffer in enumerate(store):
                if buffer is not None:
                    store[i] = buffer[rows]  # the capacity comes along: the next steps append in place


class TransformerDecoder(Module):
    """``num_layers`` copies of ``decoder_layer`` (as ``layers.0``, ...) then an optional ``norm``; with
    ``init_cache`` / ``forward_cached`` for decoding one step at a time (see the module docstring)."""

    def __init__(self, decoder_layer: TransformerDecoderLayer, num_layers: int, norm=None):
        super().__init__()
        num_layers = _positive_int(num_layers, "TransformerDecoder", "num_layers")
        self.layers = ModuleList([copy.deepcopy(decoder_layer) for _ in range(num_layers)])
        self.num_layers = num_layers
        self.norm = norm

    def forward(self, tgt, memory, tgt_mask=None, memory_mask=None, tgt_key_padding_mask=None,
                memory_key_padding_mask=None, tgt_is_causal: Optional[bool] = None, memory_is_causal: bool = False):
        if tgt_is_causal is None:
            tgt_is_causal = tgt_mask is not None and _is_causal_mask(
                tgt_mask, _seq_len(tgt, self.layers[0].batch_first))
        x = tgt
        for layer in self.layers:
            x = layer(x, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                      tgt_key_padding_mask=tgt_key_padding_mask, memory_key_padding_mask=memory_key_padding_mask,
                      tgt_is_causal=tgt_is_causal, memory_is_causal=memory_is_causal)
        return x if self.norm is None else self.norm(x)

    def _batch_first(self, x):
        if not isinstance(x, Tensor) or x.ndim != 3:
            raise ValueError(f"TransformerDecoder: incremental decoding expects a batched 3-D Tensor, got "
                             f"{type(x).__name__} {getattr(x, 'shape', '')}")
        return x if self.layers[0].batch_first else x.transpose(0, 1)

    @no_grad()
    def init_cache(self, memory, memory_key_padding_mask=None) -> DecoderCache:
        """An empty cache for decoding against ``memory`` (the decoder's layout, batched), with the
        memory's keys and values projected once per layer. ``memory_key_padding_mask`` (N, S): True = ignore."""
        memory = self._batch_first(memory)
        batch, length = memory.shape[:2]
        cross = []
        for layer in self.layers:
            mha = layer.multihead_attn
            E = mha.embed_dim
            keys = mha._heads(mha._project(memory, slice(E, 2 * E)))
            values = mha._heads(mha._project(memory, slice(2 * E, 3 * E)))
            cross.append((Tensor(np.ascontiguousarray(keys.data)), Tensor(np.ascontiguousarray(values.data))))
        mask = None
        if memory_key_padding_mask is not None:
            padding = np.asarray(memory_key_padding_mask.data if isinstance(memory_key_padding_mask, Tensor)
                                 else memory_key_padding_mask)
            if padding.dtype != np.bool_ or padding.shape != (batch, length):
                raise ValueError(f"TransformerDecoder.init_cache: argument 'memory_key_padding_mask' must be bool "
                                 f"of shape {(batch, length)}, got {padding.dtype} {padding.shape}")
            mask = ~padding[:, None, None, :]
        return DecoderCache(cross, mask)

    @no_grad()
    def forward_cached(self, tgt, cache: DecoderCache):
        """The decoder's output at the new positions ``tgt`` (N, t, E) (or (t, N, E)), which follow the
        ``cache.length`` positions already decoded; equals ``forward`` over the whole prefix with a causal
        ``tgt_mask``, restricted to the new positions. Appends the new keys and values to ``cache``."""
        x = self._batch_first(tgt)
        if x.shape[0] != cache.cross[0][0].shape[0]:
            raise ValueError(f"TransformerDecoder.forward_cached: tgt has batch {x.shape[0]} but the cache "
                             f"{cache.cross[0][0].shape[0]}")
        for index, layer in enumerate(self.layers):
            x = layer._forward_cached(x, cache, index)
        x = x if self.norm is None else self.norm(x)
        return x if self.layers[0].batch_first else x.transpose(0, 1)


class Transformer(Module):
    """torch.nn.Transformer: ``encoder`` (a TransformerEncoder with a final ``norm``) and ``decoder`` (a
    TransformerDecoder with a final ``norm``), every weight matrix Xavier-uniform as torch initialises it."""

    def __init__(self, d_model: int = 512, nhead: int = 8, num_encoder_layers: int = 6, num_decoder_layers: int = 6,
                 dim_feedforward: int = 2048, dropout: float = 0.1, activation="relu", custom_encoder=None,
                 custom_decoder=None, layer_norm_eps: float = 1e-5, batch_first: bool = False,
                 norm_first: bool = False, bias: bool = True):
        super().__init__()
        self.d_model = _positive_int(d_model, "Transformer", "d_model")
        self.nhead = nhead
        self.batch_first = bool(batch_first)
        if custom_encoder is not None:
            self.encoder = custom_encoder
        else:
            layer = TransformerEncoderLayer(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                                            batch_first, norm_first, bias)
            self.encoder = TransformerEncoder(layer, num_encoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias))
        if custom_decoder is not None:
            self.decoder = custom_decoder
        else:
            layer = TransformerDecoderLayer(d_model, nhead, dim_feedforward, dropout, activation, layer_norm_eps,
                                            batch_first, norm_first, bias)
            self.decoder = TransformerDecoder(layer, num_decoder_layers,
                                              LayerNorm(d_model, eps=layer_norm_eps, bias=bias))
        for p in self.parameters():
            if p.ndim > 1:
                init.xavier_uniform_(p)

    generate_square_subsequent_mask = staticmethod(generate_square_subsequent_mask)

    def forward(self, src, tgt, src_mask=None, tgt_mask=None, memory_mask=None, src_key_padding_mask=None,
                tgt_key_padding_mask=None, memory_key_padding_mask=None, src_is_causal: Optional[bool] = None,
                tgt_is_causal: Optional[bool] = None, memory_is_causal: bool = False):
        for name, t in (("src", src), ("tgt", tgt)):
            if not isinstance(t, Tensor):
                raise TypeError(f"Transformer: argument '{name}' must be a Tensor, got {type(t).__name__}")
            if t.ndim not in (2, 3) or t.shape[-1] != self.d_model:
                raise ValueError(f"Transformer: argument '{name}' must end in d_model={self.d_model} features "
                                 f"(2-D or 3-D), got shape {tuple(t.shape)}")
        if src.ndim != tgt.ndim or (src.ndim == 3 and src.shape[0 if self.batch_first else 1]
                                    != tgt.shape[0 if self.batch_first else 1]):
            raise ValueError(f"Transformer: the batch of src {tuple(src.shape)} and tgt {tuple(tgt.shape)} "
                             "must be equal")
        if src_is_causal is None:
            src_is_causal = src_mask is not None and _is_causal_mask(src_mask, _seq_len(src, self.batch_first))
        memory = self.encoder(src, mask=src_mask, src_key_padding_mask=src_key_padding_mask,
                              is_causal=src_is_causal)
        return self.decoder(tgt, memory, tgt_mask=tgt_mask, memory_mask=memory_mask,
                            tgt_key_padding_mask=tgt_key_padding_mask,
                            memory_key_padding_mask=memory_key_padding_mask, tgt_is_causal=tgt_is_causal,
                            memory_is_causal=memory_is_causal)
