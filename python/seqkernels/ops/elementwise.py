"""Elementwise math: broadcasting binary arithmetic (add, sub, mul, div, pow) and unary functions (neg, exp,
log, sqrt, abs, tanh, sigmoid, relu, silu, softplus, leaky_relu, elu).

Type promotion follows torch where numpy differs: results are float32 unless an operand *array* is float64
(numpy would widen ``int + 0.5``, ``float32 + np.float64(2)`` or ``int / int`` to float64); integer and bool
inputs of a float function are computed in float32. Operands of the binary ops may be Python scalars.
Each forward returns a one-tuple ``(y,)``; backward takes what its docstring names (the inputs, or y).
"""
from __future__ import annotations

import numpy as np

from ._checks import unbroadcast

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)


def promote(result: np.ndarray, *operands) -> np.ndarray:
    """torch's rule: float64 only when an operand array is float64; otherwise float results are float32."""
    if result.dtype is _F64:  # builtin dtypes are singletons: an identity test is enough and fastest
        for x in operands:
            if type(x) is np.ndarray and x.dtype is _F64:
                return result
        return result.astype(_F32)
    return result


def as_float(x: np.ndarray) -> np.ndarray:
    """Integer and bool inputs of a float op are computed in float32, as torch does."""
    return x if x.dtype.kind == "f" else x.astype(_F32)


def shape_of(x) -> tuple:
    """An operand's shape; Python scalars are 0-d."""
    return x.shape if type(x) is np.ndarray else np.shape(x)


# ---- binary arithmetic (a and b broadcast; backward sums each gradient back to its operand's shape) ----------

def add_forward(a, b):
    """y = a + b -> (y,)"""
    return (promote(np.add(a, b), a, b),)


def add_backward(dy, a_shape, b_shape, needs=(True, True)):
    """-> (da, db)"""
    return (unbroadcast(dy, a_shape) if needs[0] else None, unbroadcast(dy, b_shape) if needs[1] else None)


def sub_forward(a, b):
    """y = a - b -> (y,)"""
    return (promote(np.subtract(a, b), a, b),)


def sub_backward(dy, a_shape, b_shape, needs=(True, True)):
    """-> (da, db)"""
    return (unbroadcast(dy, a_shape) if needs[0] else None, unbroadcast(-dy, b_shape) if needs[1] else None)


def mul_forward(a, b):
    """y = a * b -> (y,)"""
    return (promote(np.multiply(a, b), a, b),)


def mul_backward(dy, a, b, needs=(True, True)):
    """da = dy * b, db = dy * a -> (da, db)"""
    return (unbroadcast(dy * b, shape_of(a)) if needs[0] else None,
            unbroadcast(dy * a, shape_of(b)) if needs[1] else None)


def div_forward(a, b):
    """y = a / b -> (y,)"""
    return (promote(np.true_divide(a, b), a, b),)


def div_backward(dy, a, b, needs=(True, True)):
    """da = dy / b, db = -dy a / b² -> (da, db)"""
    da = dy / b
    return (unbroadcast(da, shape_of(a)) if needs[0] else None,
            unbroadcast(-da * a / b, shape_of(b)) if needs[1] else None)


def pow_forward(a, b):
    """y = a ** b -> (y,)"""
    return (promote(np.power(a, b), a, b),)


def pow_backward(dy, a, b, y, needs=(True, True)):
    """da = dy b a^(b-1), db = dy y log a -> (da, db)"""
    da = db = None
    if needs[0]:
        da = unbroadcast(dy * b * np.power(a, b - 1), shape_of(a))
    if needs[1]:
        with np.errstate(divide="ignore", invalid="ignore"):
            db = unbroadcast(dy * y * np.log(a), shape_of(b))
    return da, db


# ---- unary functions ----------------------------------------------------------------------------------------

def neg_forward(x):
    """y = -x -> (y,)"""
    return (np.negative(x),)


def neg_backward(dy):
    return (-dy,)


def exp_forward(x):
    """y = e^x -> (y,); backward takes y."""
    return (np.exp(as_float(x)),)


def exp_backward(dy, y):
    return (dy * y,)


def log_forward(x):
    """y = ln x -> (y,); backward takes x."""
    return (np.log(as_float(x)),)


def log_backward(dy, x):
    return (dy / as_float(x),)


def sqrt_forward(x):
    """y = sqrt x -> (y,); backward takes y."""
    return (np.sqrt(as_float(x)),)


def sqrt_backward(dy, y):
    return (dy * 0.5 / y,)


def abs_forward(x):
    """y = |x| -> (y,); backward takes x (the gradient at 0 is 0, as torch)."""
    return (np.abs(x),)


def abs_backward(dy, x):
    return (dy * np.sign(x),)


def tanh_forward(x):
    """y = tanh x -> (y,); backward takes y."""
    return (np.tanh(as_float(x)),)


def tanh_backward(dy, y):
    return (dy * (1 - y * y),)


def sigmoid_forward(x):
    """y = 1 / (1 + e^-x), without overflow for any x -> (y,); backward takes y."""
    x = as_float(x)
    e = np.exp(-np.abs(x))  # sigmoid(x) = 1 / (1 + e) for x >= 0 and e / (1 + e) for x < 0
    return ((np.where(x >= 0, 1, e) / (1 + e)).astype(x.dtype, copy=False),)


def sigmoid_backward(dy, y):
    return (dy * y * (1 - y),)


def relu_forward(x):
    """y = max(x, 0) -> (y,); backward takes y."""
    return (np.maximum(x, 0),)


def relu_backward(dy, y):
    return (dy * (y > 0),)


def silu_forward(x):
    """y = x sigmoid(x) -> (y,); backward takes x."""
    x = as_float(x)
    return ((x * sigmoid_forward(x)[0]).astype(x.dtype, copy=False),)


def silu_backward(dy, x):
    """dx = dy s (1 + x (1 - s)), s = sigmoid(x)"""
    s = sigmoid_forward(x)[0]
    return ((dy * s * (1 + x * (1 - s))).astype(dy.dtype, copy=False),)


def _check_beta(beta, threshold):
    if not beta or not np.isfinite(beta):
        raise ValueError(f"softplus: argument 'beta' must be a finite non-zero number, got {beta!r}")
    if not np.isfinite(threshold) and threshold != np.inf:
        raise ValueError(f"softplus: argument 'threshold' must be a number, got {threshold!r}")


def softplus_forward(x, beta: float = 1.0, threshold: float = 20.0):
    """y = log(1 + e^(beta x)) / beta, and y = x where beta x > threshold (torch's linear region) -> (y,);
    backward takes x."""
    _check_beta(beta, threshold)
    x = as_float(x)
    bx = x * x.dtype.type(beta)
    y = np.logaddexp(x.dtype.type(0), bx) / x.dtype.type(beta)
    return (np.where(bx > threshold, x, y).astype(x.dtype, copy=False),)


def softplus_backward(dy, x, beta: float = 1.0, threshold: float = 20.0):
    """dx = dy sigmoid(beta x), dy where beta x > threshold"""
    bx = as_float(x) * np.float32(beta)
    return (np.where(bx > threshold, dy, dy * sigmoid_forward(bx)[0]).astype(dy.dtype, copy=False),)


def leaky_relu_forward(x, negative_slope: float = 0.01):
    """y = x for x > 0, negative_slope x otherwise -> (y,); backward takes x."""
    x = as_float(x)
    return (np.where(x > 0, x, x * x.dtype.type(negative_slope)),)


def leaky_relu_backward(dy, x, negative_slope: float = 0.01):
    return (np.where(x > 0, dy, dy * dy.dtype.type(negative_slope)),)


def elu_forward(x, alpha: float = 1.0):
    """y = x for x > 0, alpha (e^x - 1) otherwise -> (y,); backward takes x."""
    x = as_float(x)
    return (np.where(x > 0, x, x.dtype.type(alpha) * np.expm1(np.minimum(x, 0))),)


def elu_backward(dy, x, alpha: float = 1.0):
    """dx = dy for x > 0, dy alpha e^x otherwise"""
    return (np.where(x > 0, dy, dy * dy.dtype.type(alpha) * np.exp(np.minimum(x, 0))).astype(dy.dtype, copy=False),)
