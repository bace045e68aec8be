"""Tensor operations: arithmetic, indexing, shape ops, reductions, elementwise math, comparisons and
factories, each differentiable op a ``Function`` over numpy arrays.

``install()`` attaches them to ``Tensor`` as methods and operators (``t.sum(dim=1)``, ``a @ b``,
``t[idx]``); ``seqkernels`` re-exports the free functions under torch's names (``sk.cat``, ``sk.where``).
Type promotion follows torch where numpy differs: results are float32 unless an operand *array* is
float64 (numpy would widen ``int + 0.5``, ``float32 + np.float64(2)`` or ``int / int`` to float64).
Matrix products run on the seqkernels GEMM (``linalg.matmul_array`` / ``_C.gemm``), never ``numpy @``.
"""
from __future__ import annotations

import builtins
import math
from collections import namedtuple
from typing import Sequence

import numpy as np

from .. import _C
from ..autograd import Function, unbroadcast
from ..linalg import matmul_array
from ..random import generator
from ..tensor import Tensor

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_from_op = Tensor._from_op


def _promote(result: np.ndarray, *operands) -> np.ndarray:
    """torch's rule: float64 only when an operand array is float64; otherwise float results are float32."""
    if result.dtype is _F64:  # builtin dtypes are singletons: an identity test is enough and fastest
        for x in operands:
            if type(x) is np.ndarray and x.dtype is _F64:
                return result
        return result.astype(_F32)
    return result


def _as_float(x: np.ndarray) -> np.ndarray:
    """Integer and bool inputs of a float op are computed in float32, as torch does."""
    return x if x.dtype.kind == "f" else x.astype(_F32)


def _dim(dim: int, ndim: int, op: str, extra: int = 0) -> int:
    """``dim`` normalised to [0, ndim + extra); IndexError naming the valid range otherwise."""
    n = builtins.max(ndim + extra, 1)
    if type(dim) is int and -n <= dim < n:  # the common case, without the checks below
        return dim % n
    if not isinstance(dim, (int, np.integer)) or isinstance(dim, bool):
        raise TypeError(f"{op}: argument 'dim' must be an int, got {type(dim).__name__}")
    if not -n <= dim < n:
        raise IndexError(f"{op}: dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return int(dim) % n


def _dims(dim, ndim: int, op: str):
    """Reduction axes as a tuple (None: all); a 0-d tensor accepts dim 0 / -1 and reduces nothing."""
    if dim is None:
        return None
    if type(dim) is int:
        return (_dim(dim, ndim, op),) if ndim else ()
    dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
    axes = tuple(_dim(d, ndim, op) for d in dims)
    if len(set(axes)) != len(axes):
        raise ValueError(f"{op}: dimension appears more than once in dim={dim}")
    return axes if ndim else ()


def _size_args(size, op: str) -> tuple:
    """A factory's shape, validated: ``f(2, 3)`` and ``f((2, 3))`` both mean (2, 3)."""
    size = _reshape_args(size)
    for s in size:
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool):
            raise TypeError(f"{op}: sizes must be ints, got {size!r}")
    return tuple(int(s) for s in size)


def _shape(x) -> tuple:
    """An operand's shape; Python scalars are 0-d."""
    return x.shape if type(x) is np.ndarray else np.shape(x)


def _unwrap(x):
    return x.data if isinstance(x, Tensor) else x


# ---- arithmetic --------------------------------------------------------------------------------------

class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (_shape(a), _shape(b))
        return _promote(np.add(a, b), a, b)

    @staticmethod
    def backward(ctx, g):
        need_a, need_b = ctx.needs_input_grad
        return (unbroadcast(g, ctx.shapes[0]) if need_a else None,
                unbroadcast(g, ctx.shapes[1]) if need_b else None)


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.shapes = (_shape(a), _shape(b))
        return _promote(np.subtract(a, b), a, b)

    @staticmethod
    def backward(ctx, g):
        need_a, need_b = ctx.needs_input_grad
        return (unbroadcast(g, ctx.shapes[0]) if need_a else None,
                unbroadcast(-g, ctx.shapes[1]) if need_b else None)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return _promote(np.multiply(a, b), a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.a, ctx.b
        need_a, need_b = ctx.needs_input_grad
        return (unbroadcast(g * b, _shape(a)) if need_a else None,
                unbroadcast(g * a, _shape(b)) if need_b else None)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return _promote(np.true_divide(a, b), a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.a, ctx.b
        need_a, need_b = ctx.needs_input_grad
        ga = g / b
        return (unbroadcast(ga, _shape(a)) if need_a else None,
                unbroadcast(-ga * a / b, _shape(b)) if need_b else None)


class Pow(Function):
    @staticmethod
    def forward(ctx, a, b):
        y = _promote(np.power(a, b), a, b)
        ctx.a, ctx.b, ctx.y = a, b, y
        return y

    @staticmethod
    def backward(ctx, g):
        a, b, y = ctx.a, ctx.b, ctx.y
        need_a, need_b = ctx.needs_input_grad
        ga = gb = None
        if need_a:
            ga = unbroadcast(g * b * np.power(a, b - 1), _shape(a))
        if need_b:
            with np.errstate(divide="ignore", invalid="ignore"):
                gb = unbroadcast(g * y * np.log(a), _shape(b))
        return ga, gb


class Neg(Function):
    @staticmethod
    def forward(ctx, x):
        return np.negative(x)

    @staticmethod
    def backward(ctx, g):
        return -g


# ---- elementwise math --------------------------------------------------------------------------------

class Exp(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.y = np.exp(_as_float(x))
        return ctx.y

    @staticmethod
    def backward(ctx, g):
        return g * ctx.y


class Log(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.x = _as_float(x)
        return np.log(ctx.x)

    @staticmethod
    def backward(ctx, g):
        return g / ctx.x


class Sqrt(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.y = np.sqrt(_as_float(x))
        return ctx.y

    @staticmethod
    def backward(ctx, g):
        return g * 0.5 / ctx.y


class Abs(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.x = x
        return np.abs(x)

    @staticmethod
    def backward(ctx, g):
        return g * np.sign(ctx.x)


class Tanh(Function):
    @staticmethod
    def forward(ctx, x):
        ctx.y = np.tanh(_as_float(x))
        return ctx.y

    @staticmethod
    def backward(ctx, g):
        y = ctx.y
        return g * (1 - y * y)


class Sigmoid(Function):
    @staticmethod
    def forward(ctx, x):
        # exp(-|x|) never overflows: sigmoid(x) = 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0
        x = _as_float(x)
        e = np.exp(-np.abs(x))
        y = np.where(x >= 0, 1, e) / (1 + e)
        ctx.y = y.astype(x.dtype, copy=False)
        return ctx.y

    @staticmethod
    def backward(ctx, g):
        y = ctx.y
        return g * y * (1 - y)


class Relu(Function):
    @staticmethod
    def forward(ctx, x):
        y = np.maximum(x, 0)
        ctx.y = y
        return y

    @staticmethod
    def backward(ctx, g):
        return g * (ctx.y > 0)


# ---- shape ops ---------------------------------------------------------------------------------------

class Reshape(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(f"reshape: shape {tuple(shape)} is invalid for an input of shape {x.shape} "
                             f"({x.size} elements)") from None

    @staticmethod
    def backward(ctx, g):
        return g.reshape(ctx.shape)


class Permute(Function):
    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return x.transpose(dims)

    @staticmethod
    def backward(ctx, g):
        return g.transpose(np.argsort(ctx.dims))


class Expand(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, g):
        return unbroadcast(g, ctx.shape)


class Index(Function):
    @staticmethod
    def forward(ctx, x, key):
        ctx.shape, ctx.dtype, ctx.key = x.shape, x.dtype, key
        return x[key]

    @staticmethod
    def backward(ctx, g):
        gx = np.zeros(ctx.shape, dtype=ctx.dtype)
        key = ctx.key
        if _is_basic_key(key):
            gx[key] = g
        else:  # integer-array / mask indexing may pick an element twice: accumulate
            np.add.at(gx, key, g)
        return gx


def _is_basic_key(key) -> bool:
    """True when indexing selects a view (ints, slices, None, Ellipsis): no element is picked twice."""
    parts = key if type(key) is tuple else (key,)
    for k in parts:
        if not (k is None or k is Ellipsis or type(k) in (int, slice) or isinstance(k, np.integer)):
            return False
    return True


def _index_key(key):
    if type(key) is tuple:
        return tuple(k.data if isinstance(k, Tensor) else k for k in key)
    return key.data if isinstance(key, Tensor) else key


class Cat(Function):
    @staticmethod
    def forward(ctx, *arrays, dim):
        ctx.bounds = np.cumsum([a.shape[dim] for a in arrays])[:-1]
        ctx.dim = dim
        return _promote(np.concatenate(arrays, axis=dim), *arrays)

    @staticmethod
    def backward(ctx, g):
        return tuple(np.split(g, ctx.bounds, axis=ctx.dim))


class Stack(Function):
    @staticmethod
    def forward(ctx, *arrays, dim):
        ctx.dim = dim
        return _promote(np.stack(arrays, axis=dim), *arrays)

    @staticmethod
    def backward(ctx, g):
        return tuple(np.moveaxis(g, ctx.dim, 0))


class Split(Function):
    @staticmethod
    def forward(ctx, x, bounds, dim):
        ctx.dim = dim
        return tuple(np.split(x, bounds, axis=dim))

    @staticmethod
    def backward(ctx, *grads):
        return np.concatenate(grads, axis=ctx.dim)


class Clone(Function):
    @staticmethod
    def forward(ctx, x):
        return np.array(x, order="C", copy=True)

    @staticmethod
    def backward(ctx, g):
        return g


class Cast(Function):
    @staticmethod
    def forward(ctx, x, dtype):
        ctx.dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, g):
        return g.astype(ctx.dtype) if ctx.dtype.kind == "f" else None


# ---- reductions --------------------------------------------------------------------------------------

def _expand_grad(g: np.ndarray, shape, axes, keepdim: bool) -> np.ndarray:
    """A reduction's output gradient broadcast back over the reduced axes."""
    if axes is not None and not keepdim:
        g = np.expand_dims(g, axes)
    return np.broadcast_to(g, shape)


class Sum(Function):
    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        return x.sum(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        return _expand_grad(g, ctx.shape, ctx.axes, ctx.keepdim)


class Mean(Function):
    @staticmethod
    def forward(ctx, x, axes, keepdim):
        ctx.shape, ctx.axes, ctx.keepdim = x.shape, axes, keepdim
        count = x.size if axes is None else math.prod(x.shape[a] for a in axes)
        ctx.scale = 1.0 / count if count else float("nan")
        return _as_float(x).mean(axis=axes, keepdims=keepdim)

    @staticmethod
    def backward(ctx, g):
        return _expand_grad(g * np.asarray(ctx.scale, dtype=g.dtype), ctx.shape, ctx.axes, ctx.keepdim)


class Extremum(Function):
    """max / min over all elements (gradient shared evenly by ties, as torch) or along one dim
    (values and indices; the gradient goes to the returned index)."""

    @staticmethod
    def forward(ctx, x, dim, keepdim, largest):
        ctx.shape, ctx.dim, ctx.keepdim = x.shape, dim, keepdim
        if x.size == 0:
            raise ValueError(f"{'max' if largest else 'min'}: the input is empty (shape {x.shape})")
        if dim is None:
            y = x.max() if largest else x.min()
            ctx.ties = x == y
            return y
        idx = np.argmax(x, axis=dim, keepdims=True) if largest else np.argmin(x, axis=dim, keepdims=True)
        ctx.idx = idx
        values = np.take_along_axis(x, idx, axis=dim)
        if not keepdim:
            values, idx = np.squeeze(values, dim), np.squeeze(idx, dim)
        return values, idx.astype(np.int64, copy=False)

    @staticmethod
    def backward(ctx, g, g_indices=None):
        if ctx.dim is None:
            ties = ctx.ties
            return ties * (g / np.count_nonzero(ties)).astype(g.dtype)
        gx = np.zeros(ctx.shape, dtype=g.dtype)
        np.put_along_axis(gx, ctx.idx, g if ctx.keepdim else np.expand_dims(g, ctx.dim), axis=ctx.dim)
        return gx


values_indices = namedtuple("values_indices", ["values", "indices"])


class MatMul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.a, ctx.b = a, b
        return matmul_array(a, b)

    @staticmethod
    def backward(ctx, g):
        a, b = ctx.a, ctx.b
        need_a, need_b = ctx.needs_input_grad
        # promote 1-D operands as matmul does, so every product below is (..., M, K) x (..., K, N)
        a2 = a[np.newaxis, :] if a.ndim == 1 else a
        b2 = b[:, np.newaxis] if b.ndim == 1 else b
        g2 = g[..., np.newaxis] if b.ndim == 1 else g
        if a.ndim == 1:
            g2 = np.expand_dims(g2, -2)
        ga = gb = None
        if need_a:
            ga = unbroadcast(matmul_array(g2, np.swapaxes(b2, -1, -2)), a2.shape).reshape(a.shape)
        if need_b:
            if b2.ndim == 2 and a2.ndim > 2:
                # a shared weight: fold the batch into one GEMM, a^T g summed over every row of the batch
                k, n = b2.shape
                gb = _C.gemm(np.ascontiguousarray(a2).reshape(-1, k), np.ascontiguousarray(g2).reshape(-1, n),
                             trans_a=True)
            else:
                gb = unbroadcast(matmul_array(np.swapaxes(a2, -1, -2), g2), b2.shape)
            gb = gb.reshape(b.shape)
        return ga, gb


class Where(Function):
    @staticmethod
    def forward(ctx, condition, a, b):
        ctx.condition, ctx.shapes = condition, (_shape(a), _shape(b))
        return _promote(np.where(condition, a, b), a, b)

    @staticmethod
    def backward(ctx, g):
        _, need_a, need_b = ctx.needs_input_grad
        zero = np.zeros((), dtype=g.dtype)
        return (None,
                unbroadcast(np.where(ctx.condition, g, zero), ctx.shapes[0]) if need_a else None,
                unbroadcast(np.where(ctx.condition, zero, g), ctx.shapes[1]) if need_b else None)


# ---- free functions (torch names) ---------------------------------------------------------------------

def matmul(a, b):
    """``a @ b`` with torch.matmul semantics (1-D promotion, broadcast batch dims) on the GEMM kernel.
    Tensors give a Tensor (differentiable); two numpy arrays give a numpy array."""
    if isinstance(a, Tensor) or isinstance(b, Tensor):
        for x, name in ((a, "input"), (b, "other")):
            dtype = _unwrap(x).dtype if isinstance(x, (Tensor, np.ndarray)) else None
            if dtype != _F32:
                raise TypeError(f"matmul: argument '{name}' must be a float32 tensor, got "
                                f"{dtype if dtype is not None else type(x).__name__}")
        return MatMul.apply(a, b)
    return matmul_array(a, b)


def reshape(input, *shape):
    return Reshape.apply(input, _reshape_args(shape))


def _reshape_args(shape) -> tuple:
    """``f(2, 3)`` or ``f((2, 3))``; numpy rejects non-integer sizes."""
    if len(shape) == 1 and type(shape[0]) in (tuple, list):
        return tuple(shape[0])
    return shape


def transpose(input, dim0: int, dim1: int):
    nd = input.ndim
    d0, d1 = _dim(dim0, nd, "transpose"), _dim(dim1, nd, "transpose")
    if nd < 2 or d0 == d1:
        return input
    dims = list(range(nd))
    dims[d0], dims[d1] = d1, d0
    return Permute.apply(input, tuple(dims))


def permute(input, *dims):
    dims = _reshape_args(dims)
    nd = input.ndim
    if len(dims) != nd:
        raise ValueError(f"permute: got {len(dims)} dims {dims} for a tensor of {nd} dimensions")
    norm = tuple(_dim(d, nd, "permute") for d in dims)
    if sorted(norm) != list(range(nd)):
        raise ValueError(f"permute: dims {dims} are not a permutation of the {nd} dimensions")
    return Permute.apply(input, norm)


def unsqueeze(input, dim: int):
    d = _dim(dim, input.ndim, "unsqueeze", extra=1)
    shape = input.shape
    return Reshape.apply(input, shape[:d] + (1,) + shape[d:])


def squeeze(input, dim=None):
    shape = input.shape
    if dim is None:
        drop = {i for i, n in enumerate(shape) if n == 1}
    else:
        drop = {d for d in (_dims(dim, input.ndim, "squeeze") or ()) if shape[d] == 1}
    if not drop:
        return input
    return Reshape.apply(input, tuple(n for i, n in enumerate(shape) if i not in drop))


def flatten(input, start_dim: int = 0, end_dim: int = -1):
    nd = input.ndim
    if nd == 0:
        return Reshape.apply(input, (1,))
    s, e = _dim(start_dim, nd, "flatten"), _dim(end_dim, nd, "flatten")
    if s > e:
        raise ValueError(f"flatten: start_dim ({start_dim}) must not come after end_dim ({end_dim})")
    shape = input.shape
    return Reshape.apply(input, shape[:s] + (math.prod(shape[s:e + 1]),) + shape[e + 1:])


def expand(input, *sizes):
    sizes = _reshape_args(sizes)
    shape = input.shape
    if len(sizes) < len(shape):
        raise ValueError(f"expand: {len(sizes)} sizes {sizes} for a tensor of shape {shape}")
    lead = len(sizes) - len(shape)
    target = tuple(shape[i - lead] if s == -1 and i >= lead else s for i, s in enumerate(sizes))
    try:
        np.broadcast_shapes(shape, target)
    except ValueError:
        raise ValueError(f"expand: cannot expand shape {shape} to {sizes}") from None
    return Expand.apply(input, target)


def cat(tensors: Sequence, dim: int = 0):
    if not tensors:
        raise ValueError("cat: argument 'tensors' must be a non-empty sequence of tensors")
    nd = np.ndim(_unwrap(tensors[0]))
    return Cat.apply(*tensors, dim=_dim(dim, nd, "cat"))


concat = cat


def stack(tensors: Sequence, dim: int = 0):
    if not tensors:
        raise ValueError("stack: argument 'tensors' must be a non-empty sequence of tensors")
    shapes = {np.shape(_unwrap(t)) for t in tensors}
    if len(shapes) != 1:
        raise ValueError(f"stack: all tensors must have the same shape, got {sorted(shapes)}")
    return Stack.apply(*tensors, dim=_dim(dim, len(shapes.pop()), "stack", extra=1))


def split(tensor, split_size_or_sections, dim: int = 0):
    d = _dim(dim, tensor.ndim, "split")
    n = tensor.shape[d]
    if isinstance(split_size_or_sections, (int, np.integer)):
        step = int(split_size_or_sections)
        if step <= 0:
            raise ValueError(f"split: split_size must be positive, got {step}")
        bounds = list(range(step, n, step))
    else:
        sections = [int(s) for s in split_size_or_sections]
        if builtins.sum(sections) != n or any(s < 0 for s in sections):
            raise ValueError(f"split: sections {sections} must be non-negative and sum to the size {n} of dim {dim}")
        bounds = list(np.cumsum(sections)[:-1])
    return Split.apply(tensor, bounds, d)


def chunk(input, chunks: int, dim: int = 0):
    if chunks <= 0:
        raise ValueError(f"chunk: chunks must be positive, got {chunks}")
    n = input.shape[_dim(dim, input.ndim, "chunk")]
    return split(input, builtins.max(-(-n // chunks), 1), dim)


def sum(input, dim=None, keepdim: bool = False):
    return Sum.apply(input, _dims(dim, input.ndim, "sum"), keepdim)


def mean(input, dim=None, keepdim: bool = False):
    return Mean.apply(input, _dims(dim, input.ndim, "mean"), keepdim)


def _extremum(input, dim, keepdim, largest):
    if dim is None:
        return Extremum.apply(input, None, False, largest)
    d = _dim(dim, input.ndim, "max" if largest else "min")
    if input.ndim == 0:
        return values_indices(input, zeros((), dtype=np.int64))
    return values_indices(*Extremum.apply(input, d, keepdim, largest))


def max(input, dim=None, keepdim: bool = False):
    """max over everything (a tensor), or along ``dim``: ``(values, indices)``."""
    return _extremum(input, dim, keepdim, True)


def min(input, dim=None, keepdim: bool = False):
    """min over everything (a tensor), or along ``dim``: ``(values, indices)``."""
    return _extremum(input, dim, keepdim, False)


def argmax(input, dim=None, keepdim: bool = False):
    x = _unwrap(input)
    if dim is None:
        return _from_op(np.asarray(np.argmax(x), dtype=np.int64), None, 0)
    return _from_op(np.argmax(x, axis=_dim(dim, x.ndim, "argmax"), keepdims=keepdim).astype(np.int64), None, 0)


def argmin(input, dim=None, keepdim: bool = False):
    x = _unwrap(input)
    if dim is None:
        return _from_op(np.asarray(np.argmin(x), dtype=np.int64), None, 0)
    return _from_op(np.argmin(x, axis=_dim(dim, x.ndim, "argmin"), keepdims=keepdim).astype(np.int64), None, 0)


def where(condition, input, other):
    cond = _unwrap(condition)
    if not isinstance(cond, np.ndarray) or cond.dtype != np.bool_:
        raise TypeError(f"where: argument 'condition' must be a bool tensor, got "
                        f"{cond.dtype if isinstance(cond, np.ndarray) else type(cond).__name__}")
    return Where.apply(cond, input, other)


def masked_fill(input, mask, value):
    m = _unwrap(mask)
    if not isinstance(m, np.ndarray) or m.dtype != np.bool_:
        raise TypeError(f"masked_fill: argument 'mask' must be a bool tensor, got "
                        f"{m.dtype if isinstance(m, np.ndarray) else type(m).__name__}")
    shape = input.shape
    try:
        ok = np.broadcast_shapes(m.shape, shape) == shape
    except ValueError:
        ok = False
    if not ok:
        raise ValueError(f"masked_fill: mask of shape {m.shape} does not broadcast to the input's shape {shape}")
    return Where.apply(m, value, input)


def _unary(fn):
    return lambda input: fn.apply(input)


exp, log, sqrt, abs, tanh, sigmoid, relu, neg = (_unary(f) for f in (Exp, Log, Sqrt, Abs, Tanh, Sigmoid, Relu, Neg))


def pow(input, exponent):
    return Pow.apply(input, exponent)


def add(input, other):
    return Add.apply(input, other)


def sub(input, other):
    return Sub.apply(input, other)


def mul(input, other):
    return Mul.apply(input, other)


def div(input, other):
    return Div.apply(input, other)


def softmax(input, dim: int):
    from .. import functional
    return functional.softmax(input, dim)


def log_softmax(input, dim: int):
    from .. import functional
    return functional.log_softmax(input, dim)


def clone(input):
    return Clone.apply(input)


# ---- comparisons and logic (no gradient) -----------------------------------------------------------

def _compare(ufunc):
    def op(a, b):
        return _from_op(ufunc(_unwrap(a), _unwrap(b)), None, 0)
    op.__name__ = ufunc.__name__
    return op


eq, ne, lt, le, gt, ge = (_compare(u) for u in (np.equal, np.not_equal, np.less, np.less_equal, np.greater,
                                                 np.greater_equal))
logical_and, logical_or, logical_xor = (_compare(u) for u in (np.logical_and, np.logical_or, np.logical_xor))


def logical_not(input):
    return _from_op(np.logical_not(_unwrap(input)), None, 0)


# ---- factories ----------------------------------------------------------------------------------------

def _dtype(dtype, default=_F32) -> np.dtype:
    return default if dtype is None else np.dtype(dtype)


def _leaf(array: np.ndarray, requires_grad: bool) -> Tensor:
    t = _from_op(array, None, 0)
    return t.requires_grad_(True) if requires_grad else t


def zeros(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    return _leaf(np.zeros(_size_args(size, "zeros"), dtype=_dtype(dtype)), requires_grad)


def ones(*size, dtype=None, requires_grad: bool = False) -> Tensor:
    return _leaf(np.ones(_size_args(size, "ones"), dtype=_dtype(dtype)), requires_grad)


def full(size, fill_value, dtype=None, requires_grad: bool = False) -> Tensor:
    """dtype from ``fill_value`` as torch: bool, int64 or float32."""
    if dtype is None:
        dtype = np.bool_ if isinstance(fill_value, bool) else np.int64 if isinstance(fill_value, int) else _F32
    return _leaf(np.full(_size_args((size,), "full"), fill_value, dtype=dtype), requires_grad)


def zeros_like(input, dtype=None, requires_grad: bool = False) -> Tensor:
    x = _unwrap(input)
    return _leaf(np.zeros(x.shape, dtype=_dtype(dtype, x.dtype)), requires_grad)


def ones_like(input, dtype=None, requires_grad: bool = False) -> Tensor:
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


# ---- Tensor methods and operators -------------------------------------------------------------------

def _to(self, dtype):
    dtype = np.dtype(dtype)
    if dtype == self.data.dtype:
        return self
    return Cast.apply(self, dtype)


def _contiguous(self):
    return self if self.data.flags.c_contiguous else Clone.apply(self)


def _getitem(self, key):
    return Index.apply(self, _index_key(key))


def _setitem(self, key, value):
    if self.requires_grad:
        raise RuntimeError("item assignment into a tensor that requires grad is not differentiable; "
                           "assign into .data or a detached tensor")
    self.data[_index_key(key)] = _unwrap(value)


def install() -> None:
    """Attaches the ops above to ``Tensor`` as methods and operators."""
    T = Tensor
    methods = dict(
        __add__=lambda s, o: Add.apply(s, o), __radd__=lambda s, o: Add.apply(o, s),
        __sub__=lambda s, o: Sub.apply(s, o), __rsub__=lambda s, o: Sub.apply(o, s),
        __mul__=lambda s, o: Mul.apply(s, o), __rmul__=lambda s, o: Mul.apply(o, s),
        __truediv__=lambda s, o: Div.apply(s, o), __rtruediv__=lambda s, o: Div.apply(o, s),
        __pow__=lambda s, o: Pow.apply(s, o), __rpow__=lambda s, o: Pow.apply(o, s),
        __neg__=lambda s: Neg.apply(s), __abs__=abs, __matmul__=matmul, __rmatmul__=lambda s, o: matmul(o, s),
        __getitem__=_getitem, __setitem__=_setitem,
        __eq__=eq, __ne__=ne, __lt__=lt, __le__=le, __gt__=gt, __ge__=ge,
        __and__=logical_and, __or__=logical_or, __xor__=logical_xor, __invert__=logical_not,
        add=add, sub=sub, mul=mul, div=div, pow=pow, neg=neg, matmul=matmul,
        exp=exp, log=log, sqrt=sqrt, abs=abs, tanh=tanh, sigmoid=sigmoid, relu=relu,
        softmax=softmax, log_softmax=log_softmax,
        sum=sum, mean=mean, max=max, min=min, argmax=argmax, argmin=argmin,
        reshape=reshape, view=reshape, transpose=transpose, permute=permute, unsqueeze=unsqueeze,
        squeeze=squeeze, flatten=flatten, expand=expand, split=split, chunk=chunk,
        masked_fill=masked_fill, clone=clone, contiguous=_contiguous,
        to=_to, float=lambda s: _to(s, np.float32), double=lambda s: _to(s, np.float64),
        long=lambda s: _to(s, np.int64), int=lambda s: _to(s, np.int32), bool=lambda s: _to(s, np.bool_),
        T=property(lambda s: Permute.apply(s, tuple(range(s.data.ndim - 1, -1, -1)))),
    )
    for name, fn in methods.items():
        setattr(T, name, fn)
    T.__hash__ = object.__hash__  # identity hashing, as torch (__eq__ is elementwise)
