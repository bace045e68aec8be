"""Process-wide randomness: ``sk.manual_seed(s)`` makes parameter init, dropout masks and shuffling
reproducible. Everything random draws from ``generator()``; kernels that need randomness (dropout)
receive a 64-bit seed drawn from it with ``next_seed()``."""
from __future__ import annotations

import numpy as np

_generator = np.random.default_rng()


def manual_seed(seed: int) -> None:
    """Reseeds the global generator (``torch.manual_seed`` semantics; not torch's random stream)."""
    global _generator
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise TypeError(f"manual_seed: argument 'seed' must be an int, got {type(seed).__name__}")
    if seed < 0:
        raise ValueError(f"manual_seed: argument 'seed' must be >= 0, got {seed}")
    _generator = np.random.default_rng(int(seed))


def generator() -> np.random.Generator:
    """The global numpy Generator (init, shuffling)."""
    return _generator


def next_seed() -> int:
    """A fresh 63-bit seed for a kernel's own counter-based random stream."""
    return int(_generator.integers(0, 2 ** 63 - 1))
