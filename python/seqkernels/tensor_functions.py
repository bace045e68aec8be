"""torch's free functions over tensors (``sk.cat``, ``sk.where``, ``sk.zeros``, ``sk.sum``...): joins,
selection and factories here; the ones that are also ``Tensor`` methods call the method (numpy arrays are
wrapped first). ``seqkernels`` re-exports them under torch's names."""
from __future__ import annotations

from typing import Sequence

import numpy as np

from .autograd_functions.elementwise import Add, Div, Mul, Sub
from .autograd_functions.reduce import MatMul
from .autograd_functions.shape import Cat, Stack, Where
from .linalg import matmul_array
from .ops._checks import normalize_dim
from .random import generator
from .tensor import Tensor
from .tensor_mixins import _unwrap, values_indices  # noqa: F401  (values_indices: the (values, indices) pair)

_F32 = np.dtype(np.float32)
_leaf_of = Tensor._from_op


def _t(x) -> Tensor:
    """x as a Tensor (an array is wrapped without a copy)."""
    return x if isinstance(x, Tensor) else _leaf_of(np.asarray(x), None, 0)


def add(input, other):
    """``input + other``"""
    return Add.apply(input, other)


def sub(input, other):
    """``input - other``"""
    return Sub.apply(input, other)


def mul(input, other):
    """``input * other``"""
    return Mul.apply(input, other)


def div(input, other):
    """``input / other``"""
    return Div.apply(input, other)


def matmul(a, b):
    """``a @ b`` with torch.matmul semantics (1-D promotion, broadcast batch dims) on the GEMM kernel.
    Tensors give a Tensor (differentiable); two numpy arrays give a numpy array."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        return MatMul.apply(a, b)
    return matmul_array(a, b)


def _method(public: str, method: str):
    """The free function ``sk.<public>(input, ...)``: ``Tensor.<method>`` of input (an array is wrapped)."""
    bound = getattr(Tensor, method)

    def fn(input, *args, **kwargs):
        return bound(_t(input), *args, **kwargs)
    fn.__name__ = fn.__qualname__ = public
    fn.__doc__ = bound.__doc__
    return fn


pow, neg, exp, log, sqrt, abs, tanh, sigmoid, relu = (
    _method(n, n) for n in ("pow", "neg", "exp", "log", "sqrt", "abs", "tanh", "sigmoid", "relu"))
softmax, log_softmax, sum, mean, max, min, argmax, argmin = (
    _method(n, n) for n in ("softmax", "log_softmax", "sum", "mean", "max", "min", "argmax", "argmin"))
reshape, transpose, permute, unsqueeze, squeeze, flatten, expand, split, chunk, masked_fill, clone = (
    _method(n, n) for n in ("reshape", "transpose", "permute", "unsqueeze", "squeeze", "flatten", "expand", "split",
                            "chunk", "masked_fill", "clone"))
eq, ne, lt, le, gt, ge, logical_and, logical_or, logical_xor, logical_not = (
    _method(n, m) for n, m in (("eq", "__eq__"), ("ne", "__ne__"), ("lt", "__lt__"), ("le", "__le__"),
                               ("gt", "__gt__"), ("ge", "__ge__"), ("logical_and", "__and__"),
                               ("logical_or", "__or__"), ("logical_xor", "__xor__"), ("logical_not", "__invert__")))


def cat(tensors: Sequence, dim: int = 0):
    """joins tensors along an existing dim"""
    if not tensors:
        raise ValueError("cat: argument 'tensors' must be a non-empty sequence of tensors")
    nd = np.ndim(_unwrap(tensors[0]))
    return Cat.apply(*tensors, dim=normalize_dim(dim, nd, "cat"))


concat = cat


def stack(tensors: Sequence, dim: int = 0):
    """joins same-shaped tensors along a new dim"""
    if not tensors:
        raise ValueError("stack: argument 'tensors' must be a non-empty sequence of tensors")
    shapes = {np.shape(_unwrap(t)) for t in tensors}
    if len(shapes) != 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {sorted(shapes)}")
    return Stack.apply(*tensors, dim=normalize_dim(dim, len(shapes.pop()), "stack", extra=1))


def where(condition, input, other):
    """``input`` where the bool ``condition`` is True, else ``other`` (broadcast)"""
    cond = _unwrap(condition)
    if not isinstance(cond, np.ndarray) or cond.dtype != np.bool_:
        raise TypeError(f"where: argument 'condition' must be a bool tensor, got "
                        f"{cond.dtype if isinstance(cond, np.ndarray) else type(cond).__name__}")
    return Where.apply(cond, input, other)


# ---- factories ----------------------------------------------------------------------------------------

def _dtype(dtype, default=_F32) -> np.dtype:
    return default if dtype is None else np.dtype(dtype)


def _size_args(size, op: str) -> tuple:
    """A factory's shape, validated: ``f(2, 3)`` and ``f((2, 3))`` both mean (2, 3)."""
    if len(size) == 1 and type(size[0]) in (tuple, list):
        size = tuple(size[0])
    for s in size:
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f"{op}: sizes must be ints, got {size!r}")
    return tuple(int(s) for s in size)


def _leaf(array: np.ndarray, requires_grad: bool) -> Tensor:
    t = _leaf_of(array, None, 0)
    return t.requires_grad_(True) if requires_grad else t


def zeros(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """zeros of ``size`` (float32 unless ``dtype``)"""
    return _leaf(np.zeros(_size_args(size, "zeros"), dtype=_dtype(dtype)), requires_grad)


def ones(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """ones of ``size`` (float32 unless ``dtype``)"""
    return _leaf(np.ones(_size_args(size, "ones"), dtype=_dtype(dtype)), requires_grad)


def full(size, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    """dtype from ``fill_value`` as torch: bool, int64 or float32."""
    if dtype is None:
        dtype = np.bool_ if isinstance(fill_value, bool) else np.int64 if isinstance(fill_value, int) else _F32
    return _leaf(np.full(_size_args((size,), "full"), fill_value, dtype=dtype), requires_grad)


def zeros_like(input, dtype=None, requires_grad: bool = False) -> Tensor:
    """zeros of input's shape (and dtype unless ``dtype``)"""
    x = _unwrap(input)
    return _leaf(np.zeros(x.shape, dtype=_dtype(dtype, x.dtype)), requires_grad)


def ones_like(input, dtype=None, requires_grad: bool = False) -> Tensor:
    """ones of input's shape (and dtype unless ``dtype``)"""
    x = _unwrap(input)
    return _leaf(np.ones(x.shape, dtype=_dtype(dtype, x.dtype)), requires_grad)


def arange(start, end=None, step=1, dtype=None, requires_grad: bool = False) -> Tensor:
    """``arange(end)`` / ``arange(start, end, step)``: int64 when every bound is an int, float32 otherwise."""
    if end is None:
        start, end = 0, start
    if step == 0:
        raise ValueError("arange: argument 'step' must be non-zero")
    if dtype is None:
        dtype = np.int64 if all(isinstance(v, (int, np.integer)) for v in (start, end, step)) else _F32
    return _leaf(np.arange(start, end, step).astype(dtype), requires_grad)


def rand(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1), from ``seqkernels.random.generator()``."""
    return _leaf(generator().random(_size_args(size, "rand"), dtype=np.float32).astype(_dtype(dtype), copy=False),
                 requires_grad)


def randn(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    """Standard normal, from ``seqkernels.random.generator()``."""
    return _leaf(generator().standard_normal(_size_args(size, "randn"), dtype=np.float32)
                 .astype(_dtype(dtype), copy=False), requires_grad)


def randint(low, high=None, size=(), dtype=None) -> Tensor:
    """Integers in [low, high) (``randint(high, size)`` too), int64 by default."""
    if high is None:
        low, high = 0, low
    return _leaf(generator().integers(low, high, size=_size_args((size,), "randint"))
                 .astype(_dtype(dtype, np.dtype(np.int64))), False)
