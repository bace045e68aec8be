"""``Tensor``: a numpy array plus what reverse-mode autograd needs.

The array lives in ``.data`` (float32 for compute; int32/int64 for ids; bool for masks). A tensor made
by a differentiable op remembers its ``Node`` (see ``autograd.py``); ``backward()`` walks those nodes
in reverse topological order and accumulates gradients into the ``.grad`` of leaves that
``requires_grad``.
"""
from __future__ import annotations

import sys
import types
from typing import Optional

import numpy as np

from . import dlpack
from .autograd import TensorBase, run_backward
from .tensor_mixins import ArithmeticMixin, CompareMixin, ConvertMixin, MathMixin, ReduceMixin, ShapeMixin

_FLOAT = np.float32


def _as_array(data, dtype=None) -> np.ndarray:
    if isinstance(data, Tensor):
        data = data.data
    arr = np.asarray(data, dtype=dtype) if dtype is not None else np.asarray(data)
    if dtype is None and arr.dtype.kind == "f" and arr.dtype != _FLOAT:
        arr = arr.astype(_FLOAT)  # float32 is the compute type, as torch's default dtype
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"tensor: data must be numeric or bool, got dtype {arr.dtype}")
    return arr


class Tensor(TensorBase, ArithmeticMixin, MathMixin, ReduceMixin, ShapeMixin, CompareMixin, ConvertMixin):
    """An array (``.data``) with its gradient (``.grad``) and the op that made it. Methods and operators come
    from the mixins in ``tensor_mixins.py``; this class holds construction, properties and autograd."""

    __slots__ = ()
    __array_priority__ = 1000  # numpy defers to Tensor's operators

    def __init__(self, data, requires_grad: bool = False, dtype=None):
        """An array-like as a tensor (floats become float32 unless ``dtype`` says otherwise)."""
        self.data = _as_array(data, dtype)
        self.grad: Optional[Tensor] = None
        self._node = None
        self._out_index = 0
        self.requires_grad = False
        if requires_grad:
            self.requires_grad_(True)

    # ---- basic properties -----------------------------------------------------------------------
    @property
    def shape(self):
        """The array's shape (a tuple)."""
        return self.data.shape

    @property
    def dtype(self):
        """The numpy dtype."""
        return self.data.dtype

    @property
    def ndim(self) -> int:
        """The number of dimensions."""
        return self.data.ndim

    @property
    def is_leaf(self) -> bool:
        """True unless an op recorded in the graph made this tensor."""
        return self._node is None

    @property
    def grad_fn(self):
        """The name of the op that made this tensor, or None."""
        return None if self._node is None else self._node.name

    def size(self, dim: Optional[int] = None):
        """The shape, or the size of one dim."""
        return self.data.shape if dim is None else self.data.shape[dim]

    def dim(self) -> int:
        """The number of dimensions."""
        return self.data.ndim

    def numel(self) -> int:
        """The number of elements."""
        return int(self.data.size)

    def __len__(self) -> int:
        """The size of the first dim."""
        if self.data.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.data.shape[0]

    def __iter__(self):
        """Iterates over the first dimension (each item a differentiable slice)."""
        if self.data.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.data.shape[0]))

    def numpy(self) -> np.ndarray:
        """The array itself (shared, not a copy)."""
        return self.data

    def __array__(self, dtype=None, copy=None):
        """``np.asarray(t)``: the array (a copy when asked, or converted to ``dtype``)."""
        if dtype is not None and dtype != self.data.dtype:
            return self.data.astype(dtype)
        return self.data.copy() if copy else self.data

    def __dlpack__(self, *, stream=None, max_version=None, dl_device=None, copy=None):
        """DLPack export of the array without a copy (``torch.from_dlpack(t)``); layouts a consumer cannot
        take (negative strides) go out as a copy: see ``seqkernels.dlpack``."""
        return dlpack.export(self.data, stream=stream, max_version=max_version, dl_device=dl_device, copy=copy)

    def __dlpack_device__(self):
        """(kDLCPU, 0): the array lives in host memory."""
        return dlpack.device(self.data)

    def item(self):
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(f"item(): only a tensor with one element can be converted, got shape {self.shape}")
        return self.data.item()

    def tolist(self):
        """Nested Python lists."""
        return self.data.tolist()

    def __bool__(self) -> bool:
        """The truth value of a one-element tensor."""
        if self.data.size != 1:
            raise RuntimeError(f"the truth value of a tensor with {self.data.size} elements is ambiguous")
        return bool(self.data)

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"`` formats the value of a one-element tensor, as torch."""
        if spec and self.data.size == 1:
            return format(self.data.item(), spec)
        return format(repr(self), spec)

    def __float__(self) -> float:
        """``float(t)`` of a one-element tensor."""
        return float(self.item())

    def __int__(self) -> int:
        """``int(t)`` of a one-element tensor."""
        return int(self.item())

    def __repr__(self) -> str:
        """Torch's format: ``tensor([...], grad_fn=<...>)``."""
        body = np.array2string(self.data, separator=", ", prefix="tensor(")
        extra = ""
        if self._node is not None:
            extra = f", grad_fn=<{self._node.name}>"
        elif self.requires_grad:
            extra = ", requires_grad=True"
        if self.data.dtype != _FLOAT:
            extra = f", dtype={self.data.dtype}" + extra
        return f"tensor({body}{extra})"

    # ---- autograd -------------------------------------------------------------------------------
    def requires_grad_(self, requires_grad: bool = True) -> "Tensor":
        """Sets whether this leaf records gradients (floating-point tensors only); returns self."""
        if requires_grad and self.data.dtype.kind != "f":
            raise TypeError(f"requires_grad_: only floating-point tensors can require gradients, got {self.dtype}")
        if not requires_grad and self._node is not None:
            raise RuntimeError("requires_grad_(False): only leaf tensors can stop requiring grad; use detach()")
        self.requires_grad = bool(requires_grad)
        return self

    def detach(self) -> "Tensor":
        """The same data, cut from the graph."""
        return Tensor._from_op(self.data, None, 0)

    def detach_(self) -> "Tensor":
        """Cuts this tensor from the graph in place: it becomes a leaf that does not require grad."""
        self._node = None
        self.requires_grad = False
        return self

    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Accumulates d(self)/d(leaf) into every leaf's ``.grad``. ``gradient`` is required unless self
        holds one element (a loss)."""
        if not self.requires_grad:
            raise RuntimeError("backward(): this tensor does not require grad and has no grad_fn")
        if gradient is None:
            if self.data.size != 1:
                raise RuntimeError(
                    f"backward(): grad can be implicitly created only for scalar outputs, got shape {self.shape}; "
                    "pass gradient= of the same shape")
            seed = np.ones(self.shape, dtype=self.dtype)
        else:
            seed = np.asarray(gradient.data if isinstance(gradient, Tensor) else gradient, dtype=self.dtype)
            if seed.shape != self.shape:
                raise ValueError(f"backward(): gradient has shape {seed.shape} but the tensor has shape {self.shape}")
        run_backward(self, seed, retain_graph=retain_graph)

    def _accumulate_grad(self, g: np.ndarray, adopt: bool = False) -> None:
        """Adds g into .grad; with adopt, a first gradient becomes .grad's array without a copy."""
        if getattr(g, "is_sparse", False) or getattr(self.grad, "is_sparse", False):
            # a SparseGrad (ops/embedding.py) stays sparse while every contribution is sparse
            if self.grad is None:
                total = g
            elif isinstance(self.grad, Tensor):  # dense so far: g is sparse
                total = g + self.grad.data
            else:
                total = self.grad + g
            self.grad = total if getattr(total, "is_sparse", False) else Tensor._from_op(total, None, 0)
            return
        g = np.asarray(g, dtype=self.dtype)
        if self.grad is None:
            self.grad = Tensor._from_op(g if adopt else np.array(g, copy=True), None, 0)
        else:
            self.grad.data = self.grad.data + g


def clear_grad(param: Tensor, set_to_none: bool = True) -> None:
    """``zero_grad`` for one parameter (Module's and the optimizers'): drop its gradient, or zero it; a
    sparse gradient (``SparseGrad``) becomes one with no rows."""
    g = param.grad
    if g is None:
        return
    if set_to_none:
        param.grad = None
    elif getattr(g, "is_sparse", False):
        param.grad = type(g)(g.rows[:0], g.values[:0], g.shape)
    else:
        g.data = np.zeros_like(g.data)


def tensor(data, requires_grad: bool = False, dtype=None) -> Tensor:
    """``sk.tensor(array_like)``: floats become float32 (unless ``dtype`` says otherwise), ints and bools
    keep their type."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


class _CallableModule(types.ModuleType):
    """``seqkernels.tensor`` is this module, and ``sk.tensor(data)`` calls the factory above."""

    def __call__(self, data, requires_grad: bool = False, dtype=None) -> Tensor:
        return tensor(data, requires_grad, dtype)


sys.modules[__name__].__class__ = _CallableModule
