"""``patch(model)``: a user's torch model runs on our kernels, in place, with the same parameter tensors."""
from __future__ import annotations

from collections import Counter

import torch

from . import functional as F
from . import nn as ours

# torch class -> ours; exact types only (a user's own subclass of torch.nn.Linear keeps its forward)
_SWAPS = {torch.nn.Linear: ours.Linear, torch.nn.Conv1d: ours.Conv1d, torch.nn.Embedding: ours.Embedding,
          torch.nn.RNN: ours.RNN, torch.nn.LSTM: ours.LSTM, torch.nn.GRU: ours.GRU,
          torch.nn.LayerNorm: ours.LayerNorm, torch.nn.GELU: ours.GELU,
          torch.nn.MultiheadAttention: ours.MultiheadAttention,
          torch.nn.TransformerEncoderLayer: ours.TransformerEncoderLayer}


def _transformers_gelu(module) -> bool:
    """transformers' GELUActivation (BERT's "gelu"): its ``act`` is torch's exact GELU function."""
    cls = type(module)
    return (cls.__name__ == "GELUActivation" and cls.__module__ == "transformers.activations"
            and getattr(module, "act", None) is torch.nn.functional.gelu)


def patch(model: torch.nn.Module) -> dict:
    """Swaps every supported ``torch.nn`` submodule of ``model`` (and ``model`` itself) for our subclass in place
    — Linear, Conv1d, Embedding, RNN, LSTM, GRU, LayerNorm, GELU, MultiheadAttention, TransformerEncoderLayer,
    and transformers' GELUActivation — by changing its class: parameters, buffers, hooks and state_dict stay the
    very same objects, so optimizers built before the patch keep working. Configurations our kernels do not
    serve are left alone (LSTM proj_size, RNN inter-layer dropout, Embedding max_norm / sparse, Conv1d padding
    modes other than zeros, MultiheadAttention with bias_k / add_zero_attn / separate q, k, v weights,
    parameters not on the CPU in float32). Returns {class name: how many swapped}."""
    counts = Counter()
    for module in model.modules():
        cls = type(module)
        if cls in _SWAPS and ours.supported(module):
            module.__class__ = _SWAPS[cls]
            if cls is torch.nn.TransformerEncoderLayer:
                ours._adopt_activation(module)  # its sub-modules come in this loop
            counts[cls.__name__] += 1
        elif _transformers_gelu(module):
            module.act = F.gelu
            counts["GELUActivation"] += 1
    return dict(counts)
