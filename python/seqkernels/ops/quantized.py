"""Products on GGUF-quantized weights (Q4_0, Q4_1, Q8_0 blocks kept packed; see
csrc/include/seqkernels/quant_matmul.h): array-level functions on the C++ kernels.

A quantized matrix is a uint8 array ``(rows, K // 32 * block_bytes)`` — exactly the bytes of a GGUF
tensor, e.g. the memory-mapped view ``gguf.GGUFReader`` gives — plus its GGML type id.
"""
from __future__ import annotations

import numpy as np

from .. import _C

Q4_0, Q4_1, Q8_0 = 2, 3, 8
BLOCK_BYTES = {Q4_0: 18, Q4_1: 20, Q8_0: 34}
TYPE_NAMES = {Q4_0: "Q4_0", Q4_1: "Q4_1", Q8_0: "Q8_0"}


def quant_matmul(x: np.ndarray, weights, qtype: int, bias: np.ndarray | None = None) -> np.ndarray:
    """``x @ concat(weights).T (+ bias)`` for x (..., K) float32; ``weights`` one quantized matrix or a list
    of them (same type and K, stacked along the output without copying). K must be a multiple of 32."""
    x = np.asarray(x)
    if x.ndim < 1:
        raise ValueError("quant_matmul: argument 'input' must have at least one dimension")
    y = _C.quant_matmul(x.reshape(-1, x.shape[-1]), weights, int(qtype), bias)
    return y.reshape(*x.shape[:-1], y.shape[-1])


def dequantize(weight: np.ndarray, qtype: int, ids=None) -> np.ndarray:
    """float32 rows of a quantized matrix: all of them, or ``weight[ids]`` (an embedding lookup)."""
    return _C.quant_dequantize(weight, int(qtype), ids)


def quantize_q8_0(x: np.ndarray) -> np.ndarray:
    """(rows, K) float32 -> Q8_0 blocks as ggml writes them (per 32 values: fp16 scale max|x|/127, int8)."""
    return _C.quant_quantize_q8_0(x)
