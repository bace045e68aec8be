"""Merge layers: Concatenate, Add, Subtract, Multiply, Average, Maximum, Minimum, Dot."""
from __future__ import annotations

import numpy as np

from ... import cat, stack
from ..engine import Layer
from .core import as_float


class _Merge(Layer):
    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.supports_masking = True

    def _check(self, inputs):
        if not isinstance(inputs, (list, tuple)) or len(inputs) < 2:
            raise ValueError(f"{self.name}: expected a list of at least 2 inputs, got {type(inputs).__name__}")
        return [as_float(x) for x in inputs]

    def compute_mask(self, inputs, mask=None):
        if mask is None or all(m is None for m in mask):
            return None
        out = None
        for m in mask:
            if m is not None:
                out = np.asarray(m, bool) if out is None else out & np.asarray(m, bool)
        return out


class Add(_Merge):
    def call(self, inputs):
        xs = self._check(inputs)
        out = xs[0]
        for x in xs[1:]:
            out = out + x
        return out


class Subtract(_Merge):
    def call(self, inputs):
        xs = self._check(inputs)
        if len(xs) != 2:
            raise ValueError(f"{self.name}: Subtract takes exactly 2 inputs, got {len(xs)}")
        return xs[0] - xs[1]


class Multiply(_Merge):
    def call(self, inputs):
        xs = self._check(inputs)
        out = xs[0]
        for x in xs[1:]:
            out = out * x
        return out


class Average(Add):
    def call(self, inputs):
        return super().call(inputs) / float(len(inputs))


class Maximum(_Merge):
    def call(self, inputs):
        return stack(self._check(inputs), dim=0).max(dim=0)[0]


class Minimum(_Merge):
    def call(self, inputs):
        return stack(self._check(inputs), dim=0).min(dim=0)[0]


class Concatenate(_Merge):
    def __init__(self, axis=-1, **kwargs):
        super().__init__(**kwargs)
        self.axis = int(axis)

    def call(self, inputs):
        xs = self._check(inputs)
        return cat(xs, dim=self.axis)

    def compute_mask(self, inputs, mask=None):
        if mask is None or all(m is None for m in mask):
            return None
        if self.axis not in (-1, inputs[0].ndim - 1):
            raise ValueError(f"{self.name}: masked inputs can only be concatenated along the feature axis")
        return super().compute_mask(inputs, [m if m is not None else np.ones(x.shape[:2], bool)
                                             for x, m in zip(inputs, mask)])

    def get_config(self):
        return {**super().get_config(), "axis": self.axis}


class Dot(_Merge):
    """Dot products along ``axes`` of two (batch, n) or (batch, steps, n) inputs (``normalize``: cosine)."""

    def __init__(self, axes, normalize=False, **kwargs):
        super().__init__(**kwargs)
        self.axes = axes if isinstance(axes, (list, tuple)) else (axes, axes)
        self.normalize = bool(normalize)

    def call(self, inputs):
        a, b = self._check(inputs)
        if self.normalize:
            a = a / ((a * a).sum(dim=self.axes[0], keepdim=True) + 1e-12).sqrt()
            b = b / ((b * b).sum(dim=self.axes[1], keepdim=True) + 1e-12).sqrt()
        if a.ndim == 2:
            return (a * b).sum(dim=1, keepdim=True)
        ax_a, ax_b = (ax % a.ndim for ax in self.axes)
        a = a if ax_a == 2 else a.transpose(1, 2)
        b = b if ax_b == 1 else b.transpose(1, 2)
        return a @ b

    def get_config(self):
        return {**super().get_config(), "axes": list(self.axes), "normalize": self.normalize}


def concatenate(inputs, axis=-1, **kwargs):
    return Concatenate(axis=axis, **kwargs)(inputs)


def add(inputs, **kwargs):
    return Add(**kwargs)(inputs)


def multiply(inputs, **kwargs):
    return Multiply(**kwargs)(inputs)
