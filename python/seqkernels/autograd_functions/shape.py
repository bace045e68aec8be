"""Views, indexing, joins, casts and ``where``: numpy glue with no kernel or op layer beneath it."""
from __future__ import annotations

import numpy as np

from ..autograd import Function
from ..ops._checks import unbroadcast
from ..ops.elementwise import promote, shape_of


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
    def backward(ctx, dy):
        return dy.reshape(ctx.shape)


class Permute(Function):
    @staticmethod
    def forward(ctx, x, dims):
        ctx.dims = dims
        return x.transpose(dims)

    @staticmethod
    def backward(ctx, dy):
        return dy.transpose(np.argsort(ctx.dims))


class Expand(Function):
    @staticmethod
    def forward(ctx, x, shape):
        ctx.shape = x.shape
        return np.broadcast_to(x, shape)

    @staticmethod
    def backward(ctx, dy):
        return unbroadcast(dy, ctx.shape)


def is_basic_key(key) -> bool:
    """True when indexing selects a view (ints, slices, None, Ellipsis): no element is picked twice."""
    parts = key if type(key) is tuple else (key,)
    for k in parts:
        if not (k is None or k is Ellipsis or type(k) in (int, slice) or isinstance(k, np.integer)):
            return False
    return True


class Index(Function):
    @staticmethod
    def forward(ctx, x, key):
        ctx.shape, ctx.dtype, ctx.key = x.shape, x.dtype, key
        return x[key]

    @staticmethod
    def backward(ctx, dy):
        dx = np.zeros(ctx.shape, dtype=ctx.dtype)
        if is_basic_key(ctx.key):
            dx[ctx.key] = dy
        else:  # integer-array / mask indexing may pick an element twice: accumulate
            np.add.at(dx, ctx.key, dy)
        return dx


class Cat(Function):
    @staticmethod
    def forward(ctx, *arrays, dim):
        ctx.bounds = np.cumsum([a.shape[dim] for a in arrays])[:-1]
        ctx.dim = dim
        return promote(np.concatenate(arrays, axis=dim), *arrays)

    @staticmethod
    def backward(ctx, dy):
        return tuple(np.split(dy, ctx.bounds, axis=ctx.dim))


class Stack(Function):
    @staticmethod
    def forward(ctx, *arrays, dim):
        ctx.dim = dim
        return promote(np.stack(arrays, axis=dim), *arrays)

    @staticmethod
    def backward(ctx, dy):
        return tuple(np.moveaxis(dy, ctx.dim, 0))


class Split(Function):
    @staticmethod
    def forward(ctx, x, bounds, dim):
        ctx.dim = dim
        return tuple(np.split(x, bounds, axis=dim))

    @staticmethod
    def backward(ctx, *dys):
        return np.concatenate(dys, axis=ctx.dim)


class Clone(Function):
    @staticmethod
    def forward(ctx, x):
        return np.array(x, order="C", copy=True)

    @staticmethod
    def backward(ctx, dy):
        return dy


class Cast(Function):
    @staticmethod
    def forward(ctx, x, dtype):
        ctx.dtype = x.dtype
        return x.astype(dtype)

    @staticmethod
    def backward(ctx, dy):
        return dy.astype(ctx.dtype) if ctx.dtype.kind == "f" else None


class Where(Function):
    @staticmethod
    def forward(ctx, condition, a, b):
        ctx.condition, ctx.shapes = condition, (shape_of(a), shape_of(b))
        return promote(np.where(condition, a, b), a, b)

    @staticmethod
    def backward(ctx, dy):
        _, need_a, need_b = ctx.needs_input_grad
        zero = np.zeros((), dtype=dy.dtype)
        return (None,
                unbroadcast(np.where(ctx.condition, dy, zero), ctx.shapes[0]) if need_a else None,
                unbroadcast(np.where(ctx.condition, zero, dy), ctx.shapes[1]) if need_b else None)
