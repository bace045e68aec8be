"""A Hugging Face transformers attention backend: ``attn_implementation="seqkernels"``.

transformers (5.x) looks the name up twice: ``AttentionInterface`` for the attention function and
``AttentionMaskInterface`` for the function that builds the padding / causal mask. Both are registered; the
mask is transformers' own boolean sdpa mask (True = attend, or None when nothing is masked), which is what
our kernel takes. Without the mask registration a padded batch would silently lose its padding mask.

``import seqkernels.torch`` registers the backend as soon as transformers' ``modeling_utils`` is imported
(right away when it already is), so importing seqkernels.torch never pulls in transformers by itself.
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import sys

import torch

from . import functional as F

NAME = "seqkernels"


def attention_forward(module: torch.nn.Module, query: torch.Tensor, key: torch.Tensor, value: torch.Tensor,
                      attention_mask, dropout: float = 0.0, scaling=None, is_causal=None, **kwargs):
    """transformers' attention-function contract: query (B, H, Lq, D), key/value (B, H_kv, Lk, D) ->
    ((B, Lq, H, D) output, None). Grouped-query attention (num_key_value_groups > 1) runs in the kernel."""
    if kwargs.get("position_bias") is not None or kwargs.get("softcap") is not None:
        from transformers.integrations.sdpa_attention import sdpa_attention_forward
        return sdpa_attention_forward(module, query, key, value, attention_mask, dropout=dropout, scaling=scaling,
                                      is_causal=is_causal, **kwargs)
    q_length, kv_length = query.shape[2], key.shape[2]
    is_causal = is_causal if is_causal is not None else getattr(module, "is_causal", True)
    is_causal = q_length > 1 and attention_mask is None and bool(is_causal)
    if is_causal and kv_length > q_length:  # prefill into an empty static cache, as transformers' sdpa path
        key, value = key[:, :, :q_length], value[:, :, :q_length]
    enable_gqa = getattr(module, "num_key_value_groups", 1) > 1
    out = F.scaled_dot_product_attention(query, key, value, attn_mask=attention_mask, dropout_p=dropout,
                                         is_causal=is_causal, scale=scaling, enable_gqa=enable_gqa)
    return out.transpose(1, 2).contiguous(), None


def register_transformers(quiet: bool = False) -> bool:
    """Registers ``attn_implementation="seqkernels"`` with transformers now (imports it); False (or ImportError
    unless quiet) when transformers or its attention interfaces are missing."""
    if quiet and "transformers.modeling_utils" not in sys.modules:
        _install_hook()
        return False
    try:
        from transformers import AttentionInterface
        from transformers.masking_utils import AttentionMaskInterface, sdpa_mask
    except ImportError:
        if quiet:
            return False
        raise
    AttentionInterface.register(NAME, attention_forward)
    AttentionMaskInterface.register(NAME, sdpa_mask)
    return True


class _RegisterAfterImport(importlib.abc.MetaPathFinder):
    """Registers the backend once ``transformers.modeling_utils`` has been executed."""

    def find_spec(self, name, path, target=None):
        if name != "transformers.modeling_utils":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module

        def exec_then_register(module):
            exec_module(module)
            register_transformers(quiet=True)
        spec.loader.exec_module = exec_then_register
        return spec


def _install_hook() -> None:
    if not any(isinstance(f, _RegisterAfterImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _RegisterAfterImport())
