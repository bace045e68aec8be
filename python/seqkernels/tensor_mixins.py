"""``Tensor``'s methods and operators, grouped in mixin classes (``seqkernels.tensor.Tensor`` inherits them
all). Every differentiable method applies a ``Function`` from ``seqkernels/autograd_functions/``; argument
normalisation (dims, sizes) is the op layer's (``seqkernels/ops/``)."""
from __future__ import annotations

import math
from collections import namedtuple

import numpy as np

from .autograd import TensorBase
from .autograd_functions.activation import Softmax
from .autograd_functions.elementwise import (Abs, Add, Div, Exp, Log, Mul, Neg, Pow, Relu, Sigmoid, Sqrt, Sub,
                                             Tanh)
from .autograd_functions.reduce import Extremum, MatMul, Mean, Sum
from .autograd_functions.shape import Cast, Clone, Expand, Index, Permute, Reshape, Split, Where
from .ops._checks import normalize_dim, normalize_dims
from .ops.elementwise import add_forward, div_forward, mul_forward, sub_forward
from .ops.reduce import mean_forward, sum_forward

values_indices = namedtuple("values_indices", ["values", "indices"])


def _unwrap(x):
    return x.data if isinstance(x, TensorBase) else x


def _sizes(shape) -> tuple:
    """``f(2, 3)`` or ``f((2, 3))``; numpy rejects non-integer sizes."""
    if len(shape) == 1 and type(shape[0]) in (tuple, list):
        return tuple(shape[0])
    return shape


def _binary(fn, forward, a, b):
    """``fn.apply(a, b)``; when neither operand requires grad, the op layer's ``forward`` straight away (no
    graph would be recorded, so this skips ``Function.apply``'s per-call work)."""
    a_is_tensor, b_is_tensor = isinstance(a, TensorBase), isinstance(b, TensorBase)
    if (a_is_tensor and a.requires_grad) or (b_is_tensor and b.requires_grad):
        return fn.apply(a, b)
    y = forward(a.data if a_is_tensor else a, b.data if b_is_tensor else b)[0]
    return (a if a_is_tensor else b)._from_op(y if type(y) is np.ndarray else np.asarray(y), None, 0)


class ArithmeticMixin:
    """Broadcasting arithmetic (``+ - * / ** @`` and their method names); operands may be Python scalars or
    numpy arrays on either side."""

    __slots__ = ()

    def __add__(self, other):
        """``self + other``"""
        return _binary(Add, add_forward, self, other)

    def __radd__(self, other):
        """``other + self``"""
        return _binary(Add, add_forward, other, self)

    def __sub__(self, other):
        """``self - other``"""
        return _binary(Sub, sub_forward, self, other)

    def __rsub__(self, other):
        """``other - self``"""
        return _binary(Sub, sub_forward, other, self)

    def __mul__(self, other):
        """``self * other``"""
        return _binary(Mul, mul_forward, self, other)

    def __rmul__(self, other):
        """``other * self``"""
        return _binary(Mul, mul_forward, other, self)

    def __truediv__(self, other):
        """``self / other`` (true division; ints give float32)"""
        return _binary(Div, div_forward, self, other)

    def __rtruediv__(self, other):
        """``other / self``"""
        return _binary(Div, div_forward, other, self)

    def __pow__(self, exponent):
        """``self ** exponent``"""
        return Pow.apply(self, exponent)

    def __rpow__(self, base):
        """``base ** self``"""
        return Pow.apply(base, self)

    def __neg__(self):
        """``-self``"""
        return Neg.apply(self)

    def __matmul__(self, other):
        """``self @ other``: torch.matmul semantics on the GEMM kernel (float32)"""
        return MatMul.apply(self, other)

    def __rmatmul__(self, other):
        """``other @ self``"""
        return MatMul.apply(other, self)

    def add(self, other):
        """``self + other``"""
        return _binary(Add, add_forward, self, other)

    def sub(self, other):
        """``self - other``"""
        return _binary(Sub, sub_forward, self, other)

    def mul(self, other):
        """``self * other``"""
        return _binary(Mul, mul_forward, self, other)

    def div(self, other):
        """``self / other``"""
        return _binary(Div, div_forward, self, other)

    def pow(self, exponent):
        """``self ** exponent``"""
        return Pow.apply(self, exponent)

    def neg(self):
        """``-self``"""
        return Neg.apply(self)

    def matmul(self, other):
        """``self @ other``"""
        return MatMul.apply(self, other)


class MathMixin:
    """Elementwise functions and softmax."""

    __slots__ = ()

    def exp(self):
        """e ** self (integer inputs give float32)"""
        return Exp.apply(self)

    def log(self):
        """natural logarithm"""
        return Log.apply(self)

    def sqrt(self):
        """square root"""
        return Sqrt.apply(self)

    def abs(self):
        """absolute value"""
        return Abs.apply(self)

    __abs__ = abs

    def tanh(self):
        """hyperbolic tangent"""
        return Tanh.apply(self)

    def sigmoid(self):
        """1 / (1 + e ** -self)"""
        return Sigmoid.apply(self)

    def relu(self):
        """max(self, 0)"""
        return Relu.apply(self)

    def softmax(self, dim):
        """softmax along ``dim``"""
        return Softmax.apply(self, dim, False)

    def log_softmax(self, dim):
        """log_softmax along ``dim``"""
        return Softmax.apply(self, dim, True)


class ReduceMixin:
    """Reductions over all elements or some dims."""

    __slots__ = ()

    def sum(self, dim=None, keepdim: bool = False):
        """sum over ``dim`` (an int, a tuple of ints, or None for all)"""
        axes = normalize_dims(dim, self.data.ndim, "sum")
        if self.requires_grad:
            return Sum.apply(self, axes, keepdim)
        return self._from_op(sum_forward(self.data, axes, keepdim)[0], None, 0)  # no graph: the op layer directly

    def mean(self, dim=None, keepdim: bool = False):
        """mean over ``dim`` (an int, a tuple of ints, or None for all)"""
        axes = normalize_dims(dim, self.data.ndim, "mean")
        if self.requires_grad:
            return Mean.apply(self, axes, keepdim)
        return self._from_op(mean_forward(self.data, axes, keepdim)[0], None, 0)

    def _extremum(self, dim, keepdim: bool, largest: bool):
        if dim is None:
            return Extremum.apply(self, None, False, largest)
        d = normalize_dim(dim, self.data.ndim, "max" if largest else "min")
        if self.data.ndim == 0:
            return values_indices(self, type(self)._from_op(np.zeros((), np.int64), None, 0))
        return values_indices(*Extremum.apply(self, d, keepdim, largest))

    def max(self, dim=None, keepdim: bool = False):
        """max over everything (a tensor), or along ``dim``: ``(values, indices)``"""
        return self._extremum(dim, keepdim, True)

    def min(self, dim=None, keepdim: bool = False):
        """min over everything (a tensor), or along ``dim``: ``(values, indices)``"""
        return self._extremum(dim, keepdim, False)

    def argmax(self, dim=None, keepdim: bool = False):
        """index of the max (flat when ``dim`` is None), int64"""
        x = self.data
        if dim is None:
            return type(self)._from_op(np.asarray(np.argmax(x), dtype=np.int64), None, 0)
        return type(self)._from_op(np.argmax(x, axis=normalize_dim(dim, x.ndim, "argmax"), keepdims=keepdim)
                                   .astype(np.int64), None, 0)

    def argmin(self, dim=None, keepdim: bool = False):
        """index of the min (flat when ``dim`` is None), int64"""
        x = self.data
        if dim is None:
            return type(self)._from_op(np.asarray(np.argmin(x), dtype=np.int64), None, 0)
        return type(self)._from_op(np.argmin(x, axis=normalize_dim(dim, x.ndim, "argmin"), keepdims=keepdim)
                                   .astype(np.int64), None, 0)


class ShapeMixin:
    """Views, reshapes, indexing and splits (differentiable)."""

    __slots__ = ()

    def reshape(self, *shape):
        """the same elements in ``shape`` (one -1 inferred); a view when possible"""
        return Reshape.apply(self, _sizes(shape))

    view = reshape

    def transpose(self, dim0: int, dim1: int):
        """swaps two dims"""
        nd = self.data.ndim
        d0, d1 = normalize_dim(dim0, nd, "transpose"), normalize_dim(dim1, nd, "transpose")
        if nd < 2 or d0 == d1:
            return self
        dims = list(range(nd))
        dims[d0], dims[d1] = d1, d0
        return Permute.apply(self, tuple(dims))

    def permute(self, *dims):
        """reorders the dims"""
        dims = _sizes(dims)
        nd = self.data.ndim
        if len(dims) != nd:
            raise ValueError(f"permute: got {len(dims)} dims {dims} for a tensor of {nd} dimensions")
        norm = tuple(normalize_dim(d, nd, "permute") for d in dims)
        if sorted(norm) != list(range(nd)):
            raise ValueError(f"permute: dims {dims} are not a permutation of the {nd} dimensions")
        return Permute.apply(self, norm)

    @property
    def T(self):
        """all dims reversed"""
        return Permute.apply(self, tuple(range(self.data.ndim - 1, -1, -1)))

    def unsqueeze(self, dim: int):
        """inserts a dim of size 1 at ``dim``"""
        d = normalize_dim(dim, self.data.ndim, "unsqueeze", extra=1)
        shape = self.data.shape
        return Reshape.apply(self, shape[:d] + (1,) + shape[d:])

    def squeeze(self, dim=None):
        """drops dims of size 1 (all, or those in ``dim``)"""
        shape = self.data.shape
        if dim is None:
            drop = {i for i, n in enumerate(shape) if n == 1}
        else:
            drop = {d for d in (normalize_dims(dim, self.data.ndim, "squeeze") or ()) if shape[d] == 1}
        if not drop:
            return self
        return Reshape.apply(self, tuple(n for i, n in enumerate(shape) if i not in drop))

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        """merges dims start_dim..end_dim into one"""
        nd = self.data.ndim
        if nd == 0:
            return Reshape.apply(self, (1,))
        s, e = normalize_dim(start_dim, nd, "flatten"), normalize_dim(end_dim, nd, "flatten")
        if s > e:
            raise ValueError(f"flatten: start_dim ({start_dim}) must not come after end_dim ({end_dim})")
        shape = self.data.shape
        return Reshape.apply(self, shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:])

    def expand(self, *sizes):
        """a broadcast view of ``sizes`` (-1 keeps a dim)"""
        sizes = _sizes(sizes)
        shape = self.data.shape
        if len(sizes) < len(shape):
            raise ValueError(f"expand: {len(sizes)} sizes {sizes} for a tensor of shape {shape}")
        lead = len(sizes) - len(shape)
        target = tuple(shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
        try:
            np.broadcast_shapes(shape, target)
        except ValueError:
            raise ValueError(f"expand: cannot expand shape {shape} to {sizes}") from None
        return Expand.apply(self, target)

    def split(self, split_size_or_sections, dim: int = 0):
        """pieces of ``split_size`` (the last smaller) or of the given sizes, along ``dim``"""
        d = normalize_dim(dim, self.data.ndim, "split")
        n = self.data.shape[d]
        if isinstance(split_size_or_sections, (int, np.integer)):
            step = int(split_size_or_sections)
            if step <= 0:
                raise ValueError(f"split: split_size must be positive, got {step}")
            bounds = list(range(step, n, step))
        else:
            sections = [int(s) for s in split_size_or_sections]
            if sum(sections) != n or any(s < 0 for s in sections):
                raise ValueError(f"split: sections {sections} must be non-negative and sum to the size {n} "
                                 f"of dim {dim}")
            bounds = list(np.cumsum(sections)[:-1])
        return Split.apply(self, bounds, d)

    def chunk(self, chunks: int, dim: int = 0):
        """``chunks`` near-equal pieces along ``dim``"""
        if chunks <= 0:
            raise ValueError(f"chunk: chunks must be positive, got {chunks}")
        n = self.data.shape[normalize_dim(dim, self.data.ndim, "chunk")]
        return self.split(max(-(-n // chunks), 1), dim)

    def __getitem__(self, key):
        """numpy indexing (ints, slices, None, Ellipsis, int/bool arrays or tensors); differentiable"""
        if type(key) is tuple:
            key = tuple(k.data if isinstance(k, TensorBase) else k for k in key)
        elif isinstance(key, TensorBase):
            key = key.data
        return Index.apply(self, key)

    def __setitem__(self, key, value):
        """in-place assignment (only into a tensor that does not require grad)"""
        if self.requires_grad:
            raise RuntimeError("item assignment into a tensor that requires grad is not differentiable; "
                               "assign into .data or a detached tensor")
        if type(key) is tuple:
            key = tuple(k.data if isinstance(k, TensorBase) else k for k in key)
        elif isinstance(key, TensorBase):
            key = key.data
        self.data[key] = _unwrap(value)

    def masked_fill(self, mask, value):
        """``value`` where the bool ``mask`` (broadcast to self) is True"""
        m = _unwrap(mask)
        if not isinstance(m, np.ndarray) or m.dtype != np.bool_:
            raise TypeError(f"masked_fill: argument 'mask' must be a bool tensor, got "
                            f"{m.dtype if isinstance(m, np.ndarray) else type(m).__name__}")
        shape = self.data.shape
        try:
            ok = np.broadcast_shapes(m.shape, shape) == shape
        except ValueError:
            ok = False
        if not ok:
            raise ValueError(f"masked_fill: mask of shape {m.shape} does not broadcast to the input's shape {shape}")
        return Where.apply(m, value, self)

    def clone(self):
        """a C-contiguous copy (differentiable)"""
        return Clone.apply(self)

    def contiguous(self):
        """self when C-contiguous, else a contiguous copy"""
        return self if self.data.flags.c_contiguous else Clone.apply(self)


class CompareMixin:
    """Elementwise comparisons and logic: bool tensors, no gradient. Equality is elementwise, so hashing is by
    identity (as torch)."""

    __slots__ = ()

    def _bool(self, array):
        return type(self)._from_op(array, None, 0)

    def __eq__(self, other):
        """elementwise ``==``"""
        return self._bool(np.equal(self.data, _unwrap(other)))

    def __ne__(self, other):
        """elementwise ``!=``"""
        return self._bool(np.not_equal(self.data, _unwrap(other)))

    def __lt__(self, other):
        """elementwise ``<``"""
        return self._bool(np.less(self.data, _unwrap(other)))

    def __le__(self, other):
        """elementwise ``<=``"""
        return self._bool(np.less_equal(self.data, _unwrap(other)))

    def __gt__(self, other):
        """elementwise ``>``"""
        return self._bool(np.greater(self.data, _unwrap(other)))

    def __ge__(self, other):
        """elementwise ``>=``"""
        return self._bool(np.greater_equal(self.data, _unwrap(other)))

    def __and__(self, other):
        """elementwise logical and"""
        return self._bool(np.logical_and(self.data, _unwrap(other)))

    def __or__(self, other):
        """elementwise logical or"""
        return self._bool(np.logical_or(self.data, _unwrap(other)))

    def __xor__(self, other):
        """elementwise logical xor"""
        return self._bool(np.logical_xor(self.data, _unwrap(other)))

    def __invert__(self):
        """elementwise logical not"""
        return self._bool(np.logical_not(self.data))

    __hash__ = object.__hash__


class ConvertMixin:
    """dtype conversions (differentiable between float types)."""

    __slots__ = ()

    def to(self, dtype):
        """self when already ``dtype``, else a converted copy"""
        dtype = np.dtype(dtype)
        if dtype == self.data.dtype:
            return self
        return Cast.apply(self, dtype)

    def float(self):
        """as float32"""
        return self.to(np.float32)

    def double(self):
        """as float64"""
        return self.to(np.float64)

    def long(self):
        """as int64"""
        return self.to(np.int64)

    def int(self):
        """as int32"""
        return self.to(np.int32)

    def bool(self):
        """as bool"""
        return self.to(np.bool_)
