"""Drop-in ``torch.nn`` modules whose forward runs the seqkernels custom ops.

Each class subclasses torch's module of the same name and adds no state: ``__init__``, parameters, buffers,
``state_dict`` and initialisation are torch's own, ``isinstance(m, torch.nn.LSTM)`` holds, and an existing
torch module becomes ours by changing its class (what ``seqkernels.torch.patch`` does). A forward call our
kernels cannot serve runs torch's own forward instead: tensors that are not CPU float32, LSTM ``proj_size``,
inter-layer RNN dropout while training, ``MultiheadAttention`` with ``need_weights=True``, separate
key/value projection weights, ``bias_k`` / ``add_zero_attn``, Conv1d padding modes other than zeros.
"""
from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor
from torch.nn.utils.rnn import PackedSequence, pack_padded_sequence, pad_packed_sequence

from ..ops import attention as _attention
from . import functional as F
from ._dynamo import allow_our_rnns

_F32 = torch.float32


def _cpu_f32(*tensors) -> bool:
    return all(t is None or (t.device.type == "cpu" and t.dtype == _F32) for t in tensors)


def _np_or_none(t: Optional[Tensor]):
    return None if t is None else t.detach().cpu().numpy()


class Linear(torch.nn.Linear):
    """``torch.nn.Linear`` on the fused GEMM + bias kernel."""

    def forward(self, input: Tensor) -> Tensor:
        return F.linear(input, self.weight, self.bias)


class Conv1d(torch.nn.Conv1d):
    """``torch.nn.Conv1d`` on the conv1d kernel (padding_mode 'zeros'; others run torch's forward)."""

    def forward(self, input: Tensor) -> Tensor:
        if self.padding_mode != "zeros":
            return super().forward(input)
        return F.conv1d(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)


class Embedding(torch.nn.Embedding):
    """``torch.nn.Embedding`` on the gather / scatter-add kernels (max_norm, sparse: torch's op)."""

    def forward(self, input: Tensor) -> Tensor:
        return F.embedding(input, self.weight, self.padding_idx, self.max_norm, self.norm_type,
                           self.scale_grad_by_freq, self.sparse)


class LayerNorm(torch.nn.LayerNorm):
    """``torch.nn.LayerNorm`` on the fused layer-norm kernel."""

    def forward(self, input: Tensor) -> Tensor:
        return F.layer_norm(input, self.normalized_shape, self.weight, self.bias, self.eps)


class GELU(torch.nn.GELU):
    """``torch.nn.GELU`` on the GELU kernel."""

    def forward(self, input: Tensor) -> Tensor:
        return F.gelu(input, approximate=self.approximate)


class _RecurrentMixin:
    """forward of torch's RNNBase on the whole-stack recurrent op (packed, unbatched and batched inputs)."""

    def _served(self, input, hx) -> bool:
        hs = hx if isinstance(hx, tuple) else (hx,)
        return (getattr(self, "proj_size", 0) == 0 and not (self.dropout > 0 and self.training and self.num_layers > 1)
                and _cpu_f32(input, *hs, *self._flat_weights))

    def forward(self, input, hx=None):
        data = input.data if isinstance(input, PackedSequence) else input
        if not self._served(data, hx):
            return super().forward(input, hx)
        lstm = self.mode == "LSTM"
        h0, c0 = hx if (lstm and hx is not None) else (hx, None)
        lengths = None
        x = input
        if isinstance(input, PackedSequence):  # padded in the caller's batch order, as torch's states are
            x, lengths = pad_packed_sequence(input, batch_first=self.batch_first)
        unbatched = x.dim() == 2
        if unbatched:
            x = x.unsqueeze(0 if self.batch_first else 1)
            h0 = None if h0 is None else h0.unsqueeze(1)
            c0 = None if c0 is None else c0.unsqueeze(1)
        out, h_n, c_n = F.rnn(self.mode, x, h0, c0, self._flat_weights, self.num_layers, self.bidirectional,
                              self.batch_first, lengths)
        if unbatched:
            out = out.squeeze(0 if self.batch_first else 1)
            h_n = h_n.squeeze(1)
            c_n = None if c_n is None else c_n.squeeze(1)
        if isinstance(input, PackedSequence):  # packed back in the input's order of sequences
            order = input.sorted_indices
            if order is not None:
                out, lengths = out.index_select(0 if self.batch_first else 1, order), lengths[order]
            packed = pack_padded_sequence(out, lengths, batch_first=self.batch_first)
            out = PackedSequence(packed.data, packed.batch_sizes, input.sorted_indices, input.unsorted_indices)
        return out, ((h_n, c_n) if lstm else h_n)


class RNN(_RecurrentMixin, torch.nn.RNN):
    """``torch.nn.RNN`` (tanh or relu) on the recurrent kernel."""


class LSTM(_RecurrentMixin, torch.nn.LSTM):
    """``torch.nn.LSTM`` on the recurrent kernel (proj_size > 0 runs torch's forward)."""


class GRU(_RecurrentMixin, torch.nn.GRU):
    """``torch.nn.GRU`` on the recurrent kernel."""


class MultiheadAttention(torch.nn.MultiheadAttention):
    """``torch.nn.MultiheadAttention`` with the attention on the fused kernel and the projections on our
    linear. ``need_weights=True`` (torch's default) needs the attention matrix, which the fused kernel never
    forms: such calls, and configurations with bias_k / add_zero_attn / separate q, k, v weights, run torch's
    forward."""

    def forward(self, query: Tensor, key: Tensor, value: Tensor, key_padding_mask: Optional[Tensor] = None,
                need_weights: bool = True, attn_mask: Optional[Tensor] = None, average_attn_weights: bool = True,
                is_causal: bool = False):
        if (need_weights or not self._qkv_same_embed_dim or self.bias_k is not None or self.add_zero_attn
                or not _cpu_f32(query, key, value, self.in_proj_weight) or query.dim() not in (2, 3)):
            return super().forward(query, key, value, key_padding_mask=key_padding_mask, need_weights=need_weights,
                                   attn_mask=attn_mask, average_attn_weights=average_attn_weights,
                                   is_causal=is_causal)
        unbatched = query.dim() == 2
        if unbatched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            key_padding_mask = None if key_padding_mask is None else key_padding_mask.unsqueeze(0)
        if not self.batch_first:  # (L, N, E) -> (N, L, E)
            query, key, value = query.transpose(0, 1), key.transpose(0, 1), value.transpose(0, 1)
        n, len_q, e = query.shape
        len_k = key.shape[1]
        h = self.num_heads
        w, b = self.in_proj_weight, self.in_proj_bias
        if query is key and key is value:
            q, k, v = F.linear(query, w, b).chunk(3, dim=-1)
        else:
            wq, wk, wv = w.chunk(3)
            bq, bk, bv = (None, None, None) if b is None else b.chunk(3)
            q, k, v = F.linear(query, wq, bq), F.linear(key, wk, bk), F.linear(value, wv, bv)
        q, k, v = (t.reshape(n, -1, h, e // h).transpose(1, 2) for t in (q, k, v))
        mask, causal = _attention.mha_merge_masks(_np_or_none(attn_mask), _np_or_none(key_padding_mask), n, h, len_q,
                                                  len_k, is_causal)
        mask = None if mask is None else torch.from_numpy(mask)
        out = F.scaled_dot_product_attention(q, k, v, mask, self.dropout if self.training else 0.0, causal)
        out = F.linear(out.transpose(1, 2).reshape(n, len_q, e), self.out_proj.weight, self.out_proj.bias)
        if not self.batch_first:
            out = out.transpose(0, 1)
        return (out.squeeze(1) if unbatched else out), None


class TransformerEncoderLayer(torch.nn.TransformerEncoderLayer):
    """``torch.nn.TransformerEncoderLayer`` whose attention, linears, layer norms and GELU run our kernels
    (its sub-modules are ours; torch's fused inference fast path is not taken)."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        _adopt_encoder_layer(self)

    def forward(self, src: Tensor, src_mask: Optional[Tensor] = None, src_key_padding_mask: Optional[Tensor] = None,
                is_causal: bool = False) -> Tensor:
        x = src
        if self.norm_first:
            x = x + self._sa_block(self.norm1(x), src_mask, src_key_padding_mask, is_causal=is_causal)
            x = x + self._ff_block(self.norm2(x))
        else:
            x = self.norm1(x + self._sa_block(x, src_mask, src_key_padding_mask, is_causal=is_causal))
            x = self.norm2(x + self._ff_block(x))
        return x


def _adopt_encoder_layer(layer: torch.nn.TransformerEncoderLayer) -> None:
    """Turns an encoder layer's torch sub-modules into ours (same parameters) and its GELU function into ours."""
    for name, ours in (("self_attn", MultiheadAttention), ("linear1", Linear), ("linear2", Linear),
                       ("norm1", LayerNorm), ("norm2", LayerNorm)):
        child = getattr(layer, name)
        if type(child) in (ours.__mro__[1], ours) and supported(child):
            child.__class__ = ours
    if type(layer.activation) is torch.nn.GELU:
        layer.activation.__class__ = GELU
    _adopt_activation(layer)


def _adopt_activation(layer: torch.nn.TransformerEncoderLayer) -> None:
    """An encoder layer's GELU function (``activation="gelu"``) becomes ours."""
    if layer.activation is torch.nn.functional.gelu:
        layer.activation = F.gelu


def supported(module: torch.nn.Module) -> bool:
    """Whether our class can serve this torch module's configuration (parameters on the CPU in float32)."""
    params = list(module.parameters(recurse=False))
    if not all(p.device.type == "cpu" and p.dtype == _F32 for p in params):
        return False
    if isinstance(module, torch.nn.Conv1d):
        return module.padding_mode == "zeros"
    if isinstance(module, torch.nn.Embedding):
        return module.max_norm is None and not module.sparse
    if isinstance(module, torch.nn.RNNBase):
        return getattr(module, "proj_size", 0) == 0 and (module.dropout == 0 or module.num_layers == 1)
    if isinstance(module, torch.nn.MultiheadAttention):
        return module._qkv_same_embed_dim and module.bias_k is None and not module.add_zero_attn
    return True


allow_our_rnns((RNN, LSTM, GRU))

__all__ = ["Conv1d", "Embedding", "GELU", "GRU", "LSTM", "LayerNorm", "Linear", "MultiheadAttention", "RNN",
           "TransformerEncoderLayer", "supported"]
