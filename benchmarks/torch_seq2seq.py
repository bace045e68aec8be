"""The PyTorch twin of ``seqkernels.models.Seq2SeqTransformer`` (the reference for bench_seq2seq.py and
examples/translate_bible.py): the same submodules and parameter names (``torch.nn.Transformer`` inside), so
state dicts move between the two, and the same ``_start`` / ``_step`` / ``_reorder`` decoding interface, so the
same search code (seqkernels.models.generation) decodes both.

Decoding in PyTorch: ``cache=False`` recomputes the decoder over the whole prefix at every step (what
``nn.Transformer`` offers); ``cache=True`` keeps per-layer keys and values and runs one new query per step,
written here with torch's own ops (F.scaled_dot_product_attention), as the seqkernels decoder does."""
from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from seqkernels.models.generation import GenerationMixin, sinusoidal_positions


class TorchSeq2SeqTransformer(GenerationMixin, torch.nn.Module):
    def __init__(self, vocab_size, d_model=256, nhead=4, num_encoder_layers=3, num_decoder_layers=3,
                 dim_feedforward=1024, dropout=0.1, norm_first=True, max_len=512, pad_id=0, bos_id=1, eos_id=2,
                 cache=True):
        super().__init__()
        self.pad_id, self.bos_id, self.eos_id = pad_id, bos_id, eos_id
        self.src_embed = torch.nn.Embedding(vocab_size, d_model, padding_idx=pad_id)  # shared with the target
        self.transformer = torch.nn.Transformer(d_model, nhead, num_encoder_layers, num_decoder_layers,
                                                dim_feedforward, dropout, batch_first=True, norm_first=norm_first)
        self.generator = torch.nn.Linear(d_model, vocab_size)
        self.dropout = torch.nn.Dropout(dropout)
        self.register_buffer("table", torch.from_numpy(sinusoidal_positions(max_len, d_model)), persistent=False)
        self.scale = math.sqrt(d_model)
        torch.nn.init.normal_(self.src_embed.weight, 0.0, d_model ** -0.5)  # as Seq2SeqTransformer
        with torch.no_grad():
            self.src_embed.weight[pad_id] = 0
        self.nhead = nhead
        self.cache = cache

    def _embed(self, ids, offset=0):
        return self.dropout(self.src_embed(ids) * self.scale + self.table[offset:offset + ids.shape[1]])

    def encode(self, src):
        padding = src == self.pad_id
        return self.transformer.encoder(self._embed(src), src_key_padding_mask=padding), padding

    def forward(self, src, tgt):
        memory, padding = self.encode(src)
        causal = torch.nn.Transformer.generate_square_subsequent_mask(tgt.shape[1])
        out = self.transformer.decoder(self._embed(tgt), memory, tgt_mask=causal, tgt_is_causal=True,
                                       memory_key_padding_mask=padding)
        return self.generator(out)

    # ---- decoding ----
    def _start(self, src):
        with torch.no_grad():
            memory, padding = self.encode(torch.from_numpy(np.asarray(src, dtype=np.int64)))
        state = {"memory": memory, "padding": padding, "prefix": None, "position": 0}
        if self.cache:
            heads = self.nhead
            split = lambda x: x.unflatten(-1, (heads, -1)).transpose(1, 2)  # noqa: E731  (N, L, E) -> (N, H, L, D)
            state["cross"] = []
            for layer in self.transformer.decoder.layers:
                w, b = layer.multihead_attn.in_proj_weight, layer.multihead_attn.in_proj_bias
                E = w.shape[1]
                with torch.no_grad():
                    state["cross"].append((split(F.linear(memory, w[E:2 * E], b[E:2 * E])),
                                           split(F.linear(memory, w[2 * E:], b[2 * E:]))))
            state["self"] = [None] * len(state["cross"])
            state["mask"] = ~padding[:, None, None, :]
        return state

    def _step(self, state, tokens):
        tokens = torch.from_numpy(np.asarray(tokens, dtype=np.int64))[:, None]
        with torch.no_grad():
            if not self.cache:  # the whole prefix again
                prefix = tokens if state["prefix"] is None else torch.cat([state["prefix"], tokens], 1)
                state["prefix"] = prefix
                causal = torch.nn.Transformer.generate_square_subsequent_mask(prefix.shape[1])
                out = self.transformer.decoder(self._embed(prefix), state["memory"], tgt_mask=causal,
                                               tgt_is_causal=True, memory_key_padding_mask=state["padding"])
                return self.generator(out[:, -1]).numpy()
            x = self._embed(tokens, state["position"])
            state["position"] += 1
            for i, layer in enumerate(self.transformer.decoder.layers):
                x = self._cached_layer(layer, x, state, i)
            return self.generator(self.transformer.decoder.norm(x)[:, 0]).numpy()

    def _cached_layer(self, layer, x, state, i):
        heads = self.nhead
        split = lambda t: t.unflatten(-1, (heads, -1)).transpose(1, 2)  # noqa: E731
        merge = lambda t: t.transpose(1, 2).flatten(2)  # noqa: E731

        def sa(h):
            mha = layer.self_attn
            q, k, v = (split(t) for t in F.linear(h, mha.in_proj_weight, mha.in_proj_bias).chunk(3, -1))
            if state["self"][i] is not None:
                k, v = torch.cat([state["self"][i][0], k], 2), torch.cat([state["self"][i][1], v], 2)
            state["self"][i] = (k, v)
            return mha.out_proj(merge(F.scaled_dot_product_attention(q, k, v)))

        def ca(h):
            mha = layer.multihead_attn
            E = h.shape[-1]
            q = split(F.linear(h, mha.in_proj_weight[:E], mha.in_proj_bias[:E]))
            k, v = state["cross"][i]
            return mha.out_proj(merge(F.scaled_dot_product_attention(q, k, v, attn_mask=state["mask"])))

        if layer.norm_first:
            x = x + sa(layer.norm1(x))
            x = x + ca(layer.norm2(x))
            return x + layer._ff_block(layer.norm3(x))
        x = layer.norm1(x + sa(x))
        x = layer.norm2(x + ca(x))
        return layer.norm3(x + layer._ff_block(x))

    def _reorder(self, state, rows):
        rows = torch.from_numpy(np.asarray(rows, dtype=np.int64))
        state["memory"], state["padding"] = state["memory"][rows], state["padding"][rows]
        if state["prefix"] is not None:
            state["prefix"] = state["prefix"][rows]
        if self.cache:
            state["cross"] = [(k[rows], v[rows]) for k, v in state["cross"]]
            state["self"] = [None if s is None else (s[0][rows], s[1][rows]) for s in state["self"]]
            state["mask"] = state["mask"][rows]
