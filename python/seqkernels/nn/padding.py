"""Padding layers over the last dim, as torch.nn's 1-d ones: ``ConstantPad1d``, ``ZeroPad1d``,
``ReflectionPad1d``, ``ReplicationPad1d``, ``CircularPad1d`` (``padding`` an int or a (left, right) pair)."""
from __future__ import annotations

from .. import functional as F
from .module import Module


class _Pad1d(Module):
    mode = "constant"

    def __init__(self, padding):
        super().__init__()
        self.padding = (padding, padding) if isinstance(padding, int) else tuple(padding)
        if len(self.padding) != 2:
            raise ValueError(f"{type(self).__name__}: padding must be an int or a (left, right) pair, got {padding!r}")

    def forward(self, input):
        return F.pad(input, self.padding, self.mode)

    def extra_repr(self) -> str:
        return f"{self.padding}"


class ConstantPad1d(_Pad1d):
    """pads with ``value``"""

    def __init__(self, padding, value: float):
        super().__init__(padding)
        self.value = value

    def forward(self, input):
        return F.pad(input, self.padding, "constant", self.value)

    def extra_repr(self) -> str:
        return f"padding={self.padding}, value={self.value}"


class ZeroPad1d(ConstantPad1d):
    """pads with zeros"""

    def __init__(self, padding):
        super().__init__(padding, 0.0)


class ReflectionPad1d(_Pad1d):
    """mirrors the edge (without repeating it)"""
    mode = "reflect"


class ReplicationPad1d(_Pad1d):
    """repeats the edge value"""
    mode = "replicate"


class CircularPad1d(_Pad1d):
    """wraps around"""
    mode = "circular"
