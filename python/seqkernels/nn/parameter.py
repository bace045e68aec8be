"""``Parameter``: a Tensor that a ``Module`` registers as one of its learnable weights."""
from __future__ import annotations

from ..tensor import Tensor


class Parameter(Tensor):
    """A leaf Tensor that requires grad by default; assigning one to a Module attribute registers it."""

    __slots__ = ()

    def __init__(self, data=None, requires_grad: bool = True):
        super().__init__([] if data is None else data, requires_grad=False)
        if self.data.dtype.kind != "f":
            raise TypeError(f"Parameter: data must be floating point, got {self.data.dtype}")
        self.requires_grad_(requires_grad)

    def __repr__(self) -> str:
        return "Parameter containing:\n" + super().__repr__()
