"""The fused SwiGLU gate (``silu(gate) * up``): array-level forward and backward on the C++ kernels (plain
SiLU is ``ops.elementwise.silu_forward``). ``gate`` and ``up`` may be column slices of one matrix (a fused gate/up projection), read in place."""
from __future__ import annotations

import numpy as np

from .. import _C


def _rows(a, name):
    if not isinstance(a, np.ndarray) or a.ndim < 1:
        raise TypeError(f"swiglu: argument '{name}' must be a float32 array, got {type(a).__name__}")
    return a if a.ndim == 2 else a.reshape(-1, a.shape[-1])


def swiglu_forward(gate: np.ndarray, up: np.ndarray) -> np.ndarray:
    y = _C.swiglu_forward(_rows(gate, "gate"), _rows(up, "up"))
    return y.reshape(gate.shape)


def swiglu_backward(dy: np.ndarray, gate: np.ndarray, up: np.ndarray):
    """-> (dgate, dup), dense."""
    dg, du = _C.swiglu_backward(np.asarray(dy).reshape(-1, gate.shape[-1]), _rows(gate, "gate"), _rows(up, "up"))
    return dg.reshape(gate.shape), du.reshape(gate.shape)
