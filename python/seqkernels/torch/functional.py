"""``torch.nn.functional``'s signatures on the seqkernels custom ops (argument checks: the op layer's, raised
from inside the op).

Each function runs ``torch.ops.seqkernels.<op>`` when its tensors are CPU float32 (ids int32/int64) and the
options are ones the kernels implement; otherwise it calls torch's own function with the same arguments
(other dtypes or devices, ``embedding``'s ``max_norm`` / ``sparse``, class-probability targets in
``cross_entropy``, an ``attn_mask`` that requires grad). The rule looks at
static properties only (device, dtype, options), so ``torch.compile`` traces one path without a graph break.
"""
from __future__ import annotations

from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor

from . import ops as _ops  # noqa: F401  (registers torch.ops.seqkernels)
from ..ops.conv import resolve_padding, single
from ..ops.embedding import padding_row

_sk = torch.ops.seqkernels


def _ours(*tensors: Optional[Tensor]) -> bool:
    """True when every float tensor given is a CPU float32 tensor (None entries are skipped)."""
    return all(t is None or (t.device.type == "cpu" and t.dtype == torch.float32) for t in tensors)


def _ids(t: Tensor) -> bool:
    return t.device.type == "cpu" and t.dtype in (torch.int64, torch.int32)


def linear(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None) -> Tensor:
    """``F.linear``: input @ weight.T + bias."""
    if not _ours(input, weight, bias) or input.dim() == 0:
        return F.linear(input, weight, bias)
    return _sk.linear(input, weight, bias)


def conv1d(input: Tensor, weight: Tensor, bias: Optional[Tensor] = None, stride=1, padding=0, dilation=1,
           groups=1) -> Tensor:
    """``F.conv1d``: (N, C_in, L) or unbatched (C_in, L) input, padding an int, a 1-tuple, 'valid' or 'same'."""
    if not _ours(input, weight, bias) or input.dim() not in (2, 3) or weight.dim() != 3:
        return F.conv1d(input, weight, bias, stride, padding, dilation, groups)
    stride, dilation, groups = single(stride, "conv1d", "stride"), single(dilation, "conv1d", "dilation"), \
        single(groups, "conv1d", "groups")
    pads = list(resolve_padding(padding, weight.shape[-1], stride, dilation, "conv1d"))
    if input.dim() == 2:
        return _sk.conv1d(input.unsqueeze(0), weight, bias, stride, pads, dilation, groups).squeeze(0)
    return _sk.conv1d(input, weight, bias, stride, pads, dilation, groups)


def embedding(input: Tensor, weight: Tensor, padding_idx: Optional[int] = None, max_norm: Optional[float] = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """``F.embedding``: rows of weight for the ids in input (max_norm and sparse run on torch's op)."""
    if max_norm is not None or sparse or not _ours(weight) or not _ids(input) or weight.dim() != 2:
        return F.embedding(input, weight, padding_idx, max_norm, norm_type, scale_grad_by_freq, sparse)
    row = padding_row(padding_idx, weight.shape[0], "embedding")
    return _sk.embedding(weight, input, -1 if row is None else row, bool(scale_grad_by_freq))


def layer_norm(input: Tensor, normalized_shape, weight: Optional[Tensor] = None, bias: Optional[Tensor] = None,
               eps: float = 1e-5) -> Tensor:
    """``F.layer_norm`` over the trailing normalized_shape dims."""
    shape = [int(normalized_shape)] if isinstance(normalized_shape, int) else [int(n) for n in normalized_shape]
    if not _ours(input, weight, bias) or tuple(input.shape[input.dim() - len(shape):]) != tuple(shape):
        return F.layer_norm(input, shape, weight, bias, eps)
    return _sk.layer_norm(input, shape, weight, bias, float(eps))[0]


def gelu(input: Tensor, approximate: str = "none") -> Tensor:
    """``F.gelu`` (approximate 'none' or 'tanh')."""
    if not _ours(input):
        return F.gelu(input, approximate=approximate)
    return _sk.gelu(input, approximate)


def cross_entropy(input: Tensor, target: Tensor, weight: Optional[Tensor] = None, size_average=None,
                  ignore_index: int = -100, reduce=None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """``F.cross_entropy`` with class-index targets (probability targets run on torch's op)."""
    if size_average is not None or reduce is not None:
        reduction = torch.nn._reduction.legacy_get_string(size_average, reduce)
    if not _ours(input, weight) or not _ids(target) or input.dim() == 0:
        return F.cross_entropy(input, target, weight, ignore_index=ignore_index, reduction=reduction,
                               label_smoothing=label_smoothing)
    return _sk.cross_entropy(input, target, weight, reduction, int(ignore_index), float(label_smoothing))[0]


def _dropout_seed(dropout_p: float) -> Optional[Tensor]:
    """A seed for the kernel's dropout mask drawn from torch's generator (so torch.manual_seed governs it)."""
    return torch.randint(0, 2 ** 62, (), dtype=torch.int64) if dropout_p > 0.0 else None


def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Optional[Tensor] = None,
                                 dropout_p: float = 0.0, is_causal: bool = False, scale: Optional[float] = None,
                                 enable_gqa: bool = False) -> Tensor:
    """``F.scaled_dot_product_attention`` on the fused kernel: bool (True = attend) or additive float masks,
    is_causal (top-left), scale, dropout_p (mask drawn from torch's generator), enable_gqa."""
    mask_ok = attn_mask is None or (attn_mask.device.type == "cpu" and not attn_mask.requires_grad
                                    and attn_mask.dtype in (torch.bool, torch.float32))
    if not _ours(query, key, value) or not mask_ok or query.dim() < 3 or value.shape[-1] != query.shape[-1]:
        return F.scaled_dot_product_attention(query, key, value, attn_mask, dropout_p, is_causal, scale,
                                              enable_gqa=enable_gqa)
    return _sk.scaled_dot_product_attention(query, key, value, attn_mask, float(dropout_p), bool(is_causal),
                                            None if scale is None else float(scale), bool(enable_gqa),
                                            _dropout_seed(dropout_p))[0]


def rnn(mode: str, input: Tensor, hx: Optional[Tensor], cx: Optional[Tensor], weights, num_layers: int = 1,
        bidirectional: bool = False, batch_first: bool = False, lengths: Optional[Tensor] = None):
    """A whole torch.nn.RNN / LSTM / GRU stack (no inter-layer dropout) -> (output, h_n, c_n or None).
    mode 'RNN_TANH', 'RNN_RELU', 'LSTM' or 'GRU'; weights in the module's ``_flat_weights`` order; lengths
    (B,) int64 on the CPU for per-sequence lengths (outputs past a sequence's end are 0)."""
    train = torch.is_grad_enabled() and any(t.requires_grad for t in (input, hx, cx, *weights) if t is not None)
    out, h_n, c_n, _ = _sk.rnn(input, hx, cx, list(weights), lengths, mode, num_layers, bidirectional,
                               batch_first, train)
    return out, h_n, (c_n if mode == "LSTM" else None)


__all__ = ["conv1d", "cross_entropy", "embedding", "gelu", "layer_norm", "linear", "rnn",
           "scaled_dot_product_attention"]
