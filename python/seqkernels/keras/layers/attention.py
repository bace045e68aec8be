"""MultiHeadAttention with Keras's weights ((d, heads, key_dim) projections) on the fused attention kernel."""
from __future__ import annotations

import math

import numpy as np

from ... import functional as F
from ...tensor import Tensor
from .. import initializers, regularizers
from ..engine import Layer
from .core import _positive_int, _rate, as_float


class MultiHeadAttention(Layer):
    """``mha(query, value, key=None, attention_mask=None, return_attention_scores=False, use_causal_mask=False)``.

    Weights, in Keras's order: query kernel (d_q, H, key_dim) and bias (H, key_dim), key (d_k, H, key_dim),
    value (d_v, H, value_dim), output kernel (H, value_dim, d_out) and bias (d_out,). ``attention_mask`` (B, Tq,
    Tk) True/1 = attend, combined with the query's and value's Keras masks and the causal mask. A query whose
    keys are all masked attends uniformly to every key — or, with ``return_attention_scores``, gets zero weights
    (its output is the output bias) — as Keras 3 does on each of those two paths."""

    def __init__(self, num_heads, key_dim, value_dim=None, dropout=0.0, use_bias=True, output_shape=None,
                 attention_axes=None, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.num_heads = _positive_int(num_heads, "MultiHeadAttention", "num_heads")
        self.key_dim = _positive_int(key_dim, "MultiHeadAttention", "key_dim")
        self.value_dim = self.key_dim if value_dim is None else _positive_int(value_dim, "MultiHeadAttention",
                                                                               "value_dim")
        self.dropout = _rate(dropout, "MultiHeadAttention")
        self.use_bias = bool(use_bias)
        if attention_axes is not None:
            raise ValueError("MultiHeadAttention: only attention over the steps axis (attention_axes=None) is supported")
        self.output_dim = None if output_shape is None else int(np.prod(output_shape))
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.supports_masking = True

    def _build_weights(self, d_query, d_key, d_value):
        H = self.num_heads
        for name, d, width in (("query", d_query, self.key_dim), ("key", d_key, self.key_dim),
                               ("value", d_value, self.value_dim)):
            self.add_weight(f"{name}_kernel", (d, H, width), self.kernel_initializer, self.kernel_regularizer)
            if self.use_bias:
                self.add_weight(f"{name}_bias", (H, width), self.bias_initializer, self.bias_regularizer)
        d_out = self.output_dim or d_query
        self.add_weight("output_kernel", (H, self.value_dim, d_out), self.kernel_initializer, self.kernel_regularizer)
        if self.use_bias:
            self.add_weight("output_bias", (d_out,), self.bias_initializer, self.bias_regularizer)
        self._weights_made = True

    def _project(self, x: Tensor, name: str) -> Tensor:
        """(B, T, d) -> (B, H, T, width)."""
        kernel = getattr(self, f"{name}_kernel")
        d, H, width = kernel.shape
        y = x.reshape(-1, d) @ kernel.reshape(d, H * width)
        if self.use_bias:
            y = y + getattr(self, f"{name}_bias").reshape(H * width)
        return y.reshape(x.shape[0], x.shape[1], H, width).transpose(1, 2)

    def call(self, query, value, key=None, query_mask=None, value_mask=None, key_mask=None, attention_mask=None,
             return_attention_scores=False, training=None, use_causal_mask=False):
        query, value = as_float(query), as_float(value)
        key = value if key is None else as_float(key)
        for name, t in (("query", query), ("value", value), ("key", key)):
            if t.ndim != 3:
                raise ValueError(f"{self.name}: {name} must be 3-D (batch, steps, features), got {tuple(t.shape)}")
        if not getattr(self, "_weights_made", False):
            self._build_weights(query.shape[-1], key.shape[-1], value.shape[-1])
        B, Tq, Tk = query.shape[0], query.shape[1], key.shape[1]
        mask = self._mask(B, Tq, Tk, query_mask, value_mask, key_mask, attention_mask, use_causal_mask)
        fused = not return_attention_scores and self.value_dim == self.key_dim
        empty = None if mask is None or mask.any(axis=-1).all() else ~mask.any(axis=-1)  # (B, Tq): rows with no key
        q = self._project(query, "query")
        k = self._project(key, "key")
        v = self._project(value, "value")
        scale = 1.0 / math.sqrt(self.key_dim)
        p = self.dropout if training else 0.0
        if not fused:  # the fused kernel needs equal widths
            scores = (q @ k.transpose(2, 3)) * scale
            if mask is not None:
                scores = scores.masked_fill(Tensor(~mask[:, None]), -1e9)
            weights = F.softmax(scores, dim=-1)
            if empty is not None and return_attention_scores:  # Keras: zero weights on this path
                weights = weights * Tensor((~empty)[:, None, :, None].astype(np.float32))
            attended = (F.dropout(weights, p, True) if p else weights) @ v
        else:
            attended = F.scaled_dot_product_attention(q, k, v, attn_mask=None if mask is None else
                                                      Tensor(mask[:, None]), dropout_p=p, scale=scale)
            if empty is not None:  # Keras's fused path: a row with no key attends uniformly (the kernel gives 0)
                attended = attended + v.mean(dim=2, keepdim=True) * Tensor(empty[:, None, :, None].astype(np.float32))
        H, width = self.num_heads, self.value_dim
        out = attended.transpose(1, 2).reshape(B * Tq, H * width) @ self.output_kernel.reshape(H * width, -1)
        if self.use_bias:
            out = out + self.output_bias
        out = out.reshape(B, Tq, -1)
        return (out, weights) if return_attention_scores else out

    @staticmethod
    def _mask(B, Tq, Tk, query_mask, value_mask, key_mask, attention_mask, causal):
        mask = None

        def combine(m):
            nonlocal mask
            m = np.broadcast_to(np.asarray(getattr(m, "data", m)).astype(bool), (B, Tq, Tk))
            mask = m if mask is None else mask & m

        if query_mask is not None:
            combine(np.asarray(query_mask, bool)[:, :, None])
        for m in (value_mask, key_mask):
            if m is not None:
                combine(np.asarray(m, bool)[:, None, :])
        if attention_mask is not None:
            combine(attention_mask)
        if causal:
            combine(np.tril(np.ones((Tq, Tk), bool))[None])
        if mask is None:
            return None
        return mask

    def compute_mask(self, inputs, mask=None):
        return mask

    def get_config(self):
        return {**super().get_config(), "num_heads": self.num_heads, "key_dim": self.key_dim,
                "value_dim": self.value_dim, "dropout": self.dropout, "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer)}
