"""seqkernels inside PyTorch: the kernels as ``torch.library`` custom ops, drop-in modules, ``patch``.

    import seqkernels.torch as skt
    torch.ops.seqkernels.linear(x, w, b)        # custom ops: CPU float32, opcheck- and torch.compile-clean
    skt.functional.scaled_dot_product_attention(q, k, v, is_causal=True)   # torch.nn.functional's signatures
    skt.nn.LSTM(64, 128, batch_first=True)      # subclasses of torch.nn's modules running our kernels
    skt.patch(model)                            # swaps a model's supported torch.nn submodules in place
    AutoModel.from_pretrained(folder, attn_implementation="seqkernels")   # transformers attention backend

Needs torch >= 2.4 (``torch.library.custom_op``); importing it without raises ImportError.
"""
from __future__ import annotations

try:
    import torch as _torch
except ImportError as e:  # pragma: no cover - exercised only without torch
    raise ImportError("seqkernels.torch needs PyTorch >= 2.4 (pip install torch); the rest of seqkernels "
                      "works without it") from e


def _version(text: str) -> tuple:
    parts = []
    for p in text.split("+")[0].split(".")[:2]:
        digits = "".join(c for c in p if c.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


if _version(_torch.__version__) < (2, 4) or not hasattr(_torch.library, "custom_op"):
    raise ImportError(f"seqkernels.torch needs PyTorch >= 2.4 (torch.library.custom_op); found torch "
                      f"{_torch.__version__}")

from . import ops  # noqa: E402  (registers torch.ops.seqkernels.*)
from . import functional  # noqa: E402
from . import nn  # noqa: E402
from .patching import patch  # noqa: E402
from .hf import register_transformers  # noqa: E402

register_transformers(quiet=True)

__all__ = ["functional", "nn", "ops", "patch", "register_transformers"]
