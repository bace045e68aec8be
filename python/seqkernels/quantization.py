"""Dynamic int8 quantization, as ``torch.ao.quantization.quantize_dynamic``: the float32 weights of a model's
linear layers become 8-bit integers (GGUF's Q8_0 blocks: 32 int8 weights per fp16 scale), activations are
quantized to 8 bits per block of 32 at run time, and the products run on the same integer kernels as the
GGUF models (``quant_matmul``: AVX-512 VNNI / AVX2 / scalar). For inference: the quantized layers have no
gradient.

    model = sk.quantization.quantize_dynamic(model)          # a copy; inplace=True converts in place

Works on ``LlamaForCausalLM`` (every projection and the output head) and on any ``nn.Module`` (each
``nn.Linear`` whose ``in_features`` is a multiple of 32 becomes a ``DynamicQuantizedLinear``; others stay
float and are listed in a warning).
"""
from __future__ import annotations

import copy
import warnings

import numpy as np

from .nn.module import Module
from .ops import quantized as Q
from .tensor import Tensor

__all__ = ["quantize_dynamic", "DynamicQuantizedLinear"]


class DynamicQuantizedLinear(Module):
    """``y = x Wᵀ + b`` with W held as Q8_0 blocks (``weight_q``, uint8 (out, in / 32 * 34)); x float32."""

    def __init__(self, weight: np.ndarray, bias: np.ndarray | None):
        super().__init__()
        self.out_features, self.in_features = weight.shape
        self.weight_q = Q.quantize_q8_0(np.ascontiguousarray(weight, dtype=np.float32))
        self.bias_f = None if bias is None else np.ascontiguousarray(bias, dtype=np.float32)

    def forward(self, input):
        x = input.data if isinstance(input, Tensor) else np.asarray(input)
        return Tensor(Q.quant_matmul(x, self.weight_q, Q.Q8_0, self.bias_f))

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, dtype=qint8 (Q8_0 blocks)"


def _quantize_llama(model) -> None:
    from .models.llama import _Projection

    def convert(p: _Projection) -> _Projection:
        if p.qtype is not None or p.weight.shape[1] % 32:
            return p
        q = _Projection([Q.quantize_q8_0(p.weight)], Q.Q8_0)
        q.bias = p.bias
        return q

    for layer in model.layers:
        layer.qkv, layer.o = convert(layer.qkv), convert(layer.o)
        layer.gate_up, layer.down = convert(layer.gate_up), convert(layer.down)
    model.lm_head = convert(model.lm_head)


def quantize_dynamic(model, qconfig_spec=None, dtype="qint8", inplace: bool = False):
    """The model with its float32 linear layers quantized to int8 (Q8_0 blocks). ``qconfig_spec``, as torch's,
    may name the layer types to convert; only ``nn.Linear`` (the default) is supported. ``dtype`` must be
    'qint8'."""
    from .models.llama import LlamaForCausalLM
    from .nn.linear import Linear

    if dtype not in ("qint8", "int8"):
        raise ValueError(f"quantize_dynamic: argument 'dtype' must be 'qint8', got {dtype!r}")
    if qconfig_spec is not None and set(qconfig_spec) - {Linear}:
        raise ValueError("quantize_dynamic: only nn.Linear layers can be quantized")
    if not inplace:
        model = copy.deepcopy(model)
    if isinstance(model, LlamaForCausalLM):
        _quantize_llama(model)
        return model
    if not isinstance(model, Module):
        raise TypeError(f"quantize_dynamic: expected an nn.Module or a LlamaForCausalLM, got {type(model).__name__}")
    skipped = []
    for name, module in list(model.named_modules()):
        for child_name, child in list(module.named_children()):
            if type(child) is Linear:
                if child.in_features % 32:
                    skipped.append(f"{name}.{child_name}".lstrip("."))
                    continue
                bias = None if child.bias is None else child.bias.data
                setattr(module, child_name, DynamicQuantizedLinear(child.weight.data, bias))
    if isinstance(model, Linear):
        raise ValueError("quantize_dynamic: wrap a lone nn.Linear in a container to convert it")
    if skipped:
        warnings.warn(f"quantize_dynamic: left in float32 (in_features not a multiple of 32): {skipped}")
    return model
