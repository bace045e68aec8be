"""``MultiheadAttention`` with torch.nn.MultiheadAttention's parameters, arguments and mask conventions,
computed by the fused attention kernel (``functional.scaled_dot_product_attention``)."""
from __future__ import annotations

import numpy as np

from .. import functional as F
from ..autograd import no_grad
from ..linalg import matmul_array
from ..ops import attention as A
from ..tensor import Tensor
from . import init
from .linear import Linear, _positive_int
from .module import Module
from .parameter import Parameter


def _data(mask):
    return mask.data if isinstance(mask, Tensor) else mask


def _attention_weights(q, k, mask, is_causal, average: bool):
    """softmax(q kᵀ/√D + mask) as a (non-differentiable) Tensor, averaged over heads when `average`: the
    unfused path behind need_weights=True. Fully masked rows give zeros."""
    q, k = q.data, k.data
    scores = matmul_array(q, np.swapaxes(k, -1, -2)) / np.float32(np.sqrt(q.shape[-1]))
    if is_causal:
        scores = np.where(np.tril(np.ones(scores.shape[-2:], dtype=bool)), scores, -np.inf)
    if mask is not None:
        scores = np.where(mask, scores, -np.inf) if mask.dtype == np.bool_ else scores + mask
    top = scores.max(axis=-1, keepdims=True)
    weights = np.exp(scores - np.where(np.isfinite(top), top, 0))
    total = weights.sum(axis=-1, keepdims=True)
    weights = np.divide(weights, total, out=np.zeros_like(weights), where=total > 0).astype(np.float32)
    return Tensor(weights.mean(axis=1) if average else weights)


class MultiheadAttention(Module):
    """torch.nn.MultiheadAttention (kdim = vdim = embed_dim): ``in_proj_weight`` (3E, E), ``in_proj_bias`` (3E),
    ``out_proj`` (a Linear). Inputs are (L, N, E), or (N, L, E) with ``batch_first``, or unbatched (L, E).

    forward returns (attn_output, attn_weights): the weights (averaged over heads unless
    ``average_attn_weights=False``) come from a separate unfused computation when ``need_weights`` is True
    and carry no gradient; they are the probabilities before dropout. A query whose keys are all masked
    gets a zero output (torch gives NaN)."""

    def __init__(self, embed_dim: int, num_heads: int, dropout: float = 0.0, bias: bool = True,
                 batch_first: bool = False, dtype=None):
        super().__init__()
        self.embed_dim = _positive_int(embed_dim, "MultiheadAttention", "embed_dim")
        self.num_heads = _positive_int(num_heads, "MultiheadAttention", "num_heads")
        if self.embed_dim % self.num_heads:
            raise ValueError(f"MultiheadAttention: embed_dim ({embed_dim}) must be divisible by num_heads "
                             f"({num_heads})")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"MultiheadAttention: dropout must be in [0, 1), got {dropout!r}")
        self.dropout = float(dropout)
        self.batch_first = bool(batch_first)
        self.head_dim = self.embed_dim // self.num_heads
        E = self.embed_dim
        self.in_proj_weight = Parameter(np.empty((3 * E, E), dtype=np.float32))
        self.in_proj_bias = Parameter(np.empty(3 * E, dtype=np.float32)) if bias else None
        self.out_proj = Linear(E, E, bias=bias)
        self._reset_parameters()

    def _reset_parameters(self) -> None:
        init.xavier_uniform_(self.in_proj_weight)
        if self.in_proj_bias is not None:
            init.zeros_(self.in_proj_bias)
            init.zeros_(self.out_proj.bias)

    def _project(self, x, part: slice):
        bias = None if self.in_proj_bias is None else self.in_proj_bias[part]
        return F.linear(x, self.in_proj_weight[part], bias)

    def _heads(self, x):
        """(N, L, E) -> (N, H, L, D)."""
        n, length, _ = x.shape
        return x.reshape(n, length, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, query, key, value, key_padding_mask=None, need_weights: bool = True, attn_mask=None,
                average_attn_weights: bool = True, is_causal: bool = False):
        for name, t in (("query", query), ("key", key), ("value", value)):
            if not isinstance(t, Tensor):
                raise TypeError(f"MultiheadAttention: argument '{name}' must be a Tensor, got {type(t).__name__}")
            if t.ndim not in (2, 3) or t.shape[-1] != self.embed_dim:
                raise ValueError(f"MultiheadAttention: argument '{name}' must be (L, N, {self.embed_dim}) "
                                 f"(or batch_first / unbatched), got shape {tuple(t.shape)}")
        unbatched = query.ndim == 2
        self_attention = query is key and key is value
        if unbatched:
            query, key, value = query.unsqueeze(1), key.unsqueeze(1), value.unsqueeze(1)
            if key_padding_mask is not None:
                key_padding_mask = np.asarray(_data(key_padding_mask))[None]
        elif self.batch_first:
            query, key, value = (t.transpose(0, 1) for t in (query, key, value))
        # now (L, N, E); the projections run in that layout, the heads are split as (N, H, L, D)
        if key.shape[:2] != value.shape[:2] or key.shape[1] != query.shape[1]:
            raise ValueError(f"MultiheadAttention: key {tuple(key.shape)} and value {tuple(value.shape)} must share "
                             f"(S, N), and N must match query's {tuple(query.shape)}")
        E = self.embed_dim
        if self_attention:
            q, k, v = self._project(query, slice(0, 3 * E)).split(E, dim=-1)
        else:
            q, k, v = (self._project(x, slice(i * E, (i + 1) * E)) for i, x in enumerate((query, key, value)))
        q, k, v = (self._heads(t.transpose(0, 1)) for t in (q, k, v))
        batch, len_q, len_k = q.shape[0], q.shape[2], k.shape[2]
        mask, causal = A.mha_merge_masks(_data(attn_mask), _data(key_padding_mask), batch, self.num_heads, len_q,
                                            len_k, is_causal)
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=causal,
                                             dropout_p=self.dropout if self.training else 0.0)
        out = out.transpose(1, 2).reshape(batch, len_q, E)  # (N, L, E)
        out = self.out_proj(out if self.batch_first or unbatched else out.transpose(0, 1))  # back to the input layout
        weights = None
        if need_weights:
            with no_grad():
                weights = _attention_weights(q, k, mask, causal, average_attn_weights)
            if unbatched:
                weights = Tensor(weights.data[0])
        return (out[0] if unbatched else out), weights

    def extra_repr(self) -> str:
        return f"embed_dim={self.embed_dim}, num_heads={self.num_heads}, dropout={self.dropout}, " \
               f"batch_first={self.batch_first}"
