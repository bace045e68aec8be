"""Elementwise math: broadcasting binary arithmetic (add, sub, mul, div, pow) and unary functions (neg, exp,
log, sqrt, abs, tanh, sigmoid, relu, silu, softplus, leaky_relu, elu).

float32 operands (and a float32 array with a Python or numpy scalar) run on the C++ kernels
(``_C.binary_forward`` / ``binary_backward``, which broadcast and sum gradients back to each operand's shape,
and ``_C.unary_forward`` / ``unary_backward``); a binary forward under the kernels' parallel grain (16384
elements) is numpy's ufunc, which gives the same bits at less per-call cost; the activations compute integer, bool and float64 inputs in
float32 too (float64 results are cast back). The binary ops keep numpy's ufuncs for the other dtypes (integer
and float64 arithmetic, which the kernels do not do), with torch's promotion where numpy differs: results are
float32 unless an operand *array* is float64 (numpy would widen ``int + 0.5``, ``float32 + np.float64(2)`` or
``int / int`` to float64). pow, neg, sqrt and abs have no kernel and stay numpy.
Each forward returns a one-tuple ``(y,)``; backward takes what its docstring names (the inputs, or y).
"""
from __future__ import annotations

import numpy as np

from .. import _C
from ._checks import unbroadcast

_F32 = np.dtype(np.float32)
_F64 = np.dtype(np.float64)
_SCALARS = (float, int, bool, np.float32, np.float64, np.int64, np.int32, np.bool_)


def promote(result: np.ndarray, *operands) -> np.ndarray:
    """torch's rule: float64 only when an operand array is float64; otherwise float results are float32."""
    if result.dtype == _F64:  # equality, not identity: an unpickled array has its own dtype object
        for x in operands:
            if type(x) is np.ndarray and x.dtype == _F64:
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

def _kernel_operands(a, b):
    """(a, b) as the binary kernels take them, when both are float32 arrays or one is and the other a scalar;
    else None (numpy's dtype-general path)."""
    ta, tb = type(a), type(b)
    if ta is np.ndarray and a.dtype == _F32:
        if tb is np.ndarray:
            return (a, b) if b.dtype == _F32 else None
        return (a, np.array(b, _F32)) if tb in _SCALARS else None
    if tb is np.ndarray and b.dtype == _F32 and ta in _SCALARS:
        return np.array(a, _F32), b
    return None


# The kernels split work over the threads in chunks of this many elements (parallel.h's kElementGrain): a smaller
# forward runs on one thread either way, and numpy's ufunc computes the same IEEE sums, differences, products and
# quotients with less per-call overhead (about 0.4 us of the ~1.5 us of a tiny add).
_PARALLEL_GRAIN = 1 << 14


def _binary_forward(name: str, ufunc, a, b):
    na = a.size if type(a) is np.ndarray else 1
    nb = b.size if type(b) is np.ndarray else 1
    if na >= _PARALLEL_GRAIN or nb >= _PARALLEL_GRAIN or (na * nb >= _PARALLEL_GRAIN and a.shape != b.shape):
        operands = _kernel_operands(a, b)
        if operands is not None:
            return (_C.binary_forward(operands[0], operands[1], name),)
    return (promote(ufunc(a, b), a, b),)


def add_forward(a, b):
    """y = a + b -> (y,)"""
    return _binary_forward("add", np.add, a, b)


def add_backward(dy, a_shape, b_shape, needs=(True, True)):
    """-> (da, db)"""
    return (unbroadcast(dy, a_shape) if needs[0] else None, unbroadcast(dy, b_shape) if needs[1] else None)


def sub_forward(a, b):
    """y = a - b -> (y,)"""
    return _binary_forward("sub", np.subtract, a, b)


def sub_backward(dy, a_shape, b_shape, needs=(True, True)):
    """-> (da, db)"""
    db = None
    if needs[1]:
        db = (_C.binary_backward(dy, tuple(a_shape), tuple(b_shape), "sub", False, True)[1] if dy.dtype == _F32
              else unbroadcast(-dy, b_shape))
    return (unbroadcast(dy, a_shape) if needs[0] else None), db


def mul_forward(a, b):
    """y = a * b -> (y,)"""
    return _binary_forward("mul", np.multiply, a, b)


def mul_backward(dy, a, b, needs=(True, True)):
    """da = dy * b, db = dy * a -> (da, db)"""
    operands = _kernel_operands(a, b) if dy.dtype == _F32 else None
    if operands is not None:
        return _C.binary_backward(dy, operands[0], operands[1], "mul", bool(needs[0]), bool(needs[1]))
    return (unbroadcast(dy * b, shape_of(a)) if needs[0] else None,
            unbroadcast(dy * a, shape_of(b)) if needs[1] else None)


def div_forward(a, b):
    """y = a / b -> (y,)"""
    return _binary_forward("div", np.true_divide, a, b)


def div_backward(dy, a, b, needs=(True, True)):
    """da = dy / b, db = -dy a / b² -> (da, db)"""
    operands = _kernel_operands(a, b) if dy.dtype == _F32 else None
    if operands is not None:
        return _C.binary_backward(dy, operands[0], operands[1], "div", bool(needs[0]), bool(needs[1]))
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

def _unary_forward(name: str, x, *params):
    """``_C.unary_forward(x, name, *params)`` (params: alpha, beta, threshold, as far as given) in float32
    (integer and bool inputs computed in float32, float64 ones cast back)."""
    if x.dtype == _F32:
        return (_C.unary_forward(x, name, *params),)
    y = _C.unary_forward(x.astype(_F32), name, *params)
    return (y.astype(_F64) if x.dtype == _F64 else y,)


def _unary_backward(name: str, dy, x=None, y=None, *params):
    """``_C.unary_backward`` from x or y (whichever the function reads), in float32; dx in dy's dtype."""
    def f32(a):
        return a if a is None or a.dtype == _F32 else a.astype(_F32)
    dx = _C.unary_backward(f32(dy), f32(x), f32(y), name, *params)
    return (dx if dy.dtype == _F32 else dx.astype(dy.dtype),)


def neg_forward(x):
    """y = -x -> (y,)"""
    return (np.negative(x),)


def neg_backward(dy):
    return (-dy,)


def exp_forward(x):
    """y = e^x -> (y,); backward takes y."""
    return _unary_forward("exp", x)


def exp_backward(dy, y):
    return _unary_backward("exp", dy, None, y)


def log_forward(x):
    """y = ln x -> (y,); backward takes x."""
    return _unary_forward("log", x)


def log_backward(dy, x):
    return _unary_backward("log", dy, x)


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
    return _unary_forward("tanh", x)


def tanh_backward(dy, y):
    return _unary_backward("tanh", dy, None, y)


def sigmoid_forward(x):
    """y = 1 / (1 + e^-x), without overflow for any x -> (y,); backward takes y."""
    return _unary_forward("sigmoid", x)


def sigmoid_backward(dy, y):
    return _unary_backward("sigmoid", dy, None, y)


def relu_forward(x):
    """y = max(x, 0) (NaN stays NaN) -> (y,); backward takes y."""
    return _unary_forward("relu", x)


def relu_backward(dy, y):
    return _unary_backward("relu", dy, None, y)


def silu_forward(x):
    """y = x sigmoid(x) -> (y,); backward takes x."""
    return _unary_forward("silu", x)


def silu_backward(dy, x):
    """dx = dy s (1 + x (1 - s)), s = sigmoid(x)"""
    return _unary_backward("silu", dy, x)


def _check_beta(beta, threshold):
    if not beta or not np.isfinite(beta):
        raise ValueError(f"softplus: argument 'beta' must be a finite non-zero number, got {beta!r}")
    if not np.isfinite(threshold) and threshold != np.inf:
        raise ValueError(f"softplus: argument 'threshold' must be a number, got {threshold!r}")


def softplus_forward(x, beta: float = 1.0, threshold: float = 20.0):
    """y = log(1 + e^(beta x)) / beta, and y = x where beta x > threshold (torch's linear region) -> (y,);
    backward takes x."""
    _check_beta(beta, threshold)
    return _unary_forward("softplus", x, 0.01, float(beta), float(threshold))


def softplus_backward(dy, x, beta: float = 1.0, threshold: float = 20.0):
    """dx = dy sigmoid(beta x), dy where beta x > threshold"""
    return _unary_backward("softplus", dy, x, None, 0.01, float(beta), float(threshold))


def leaky_relu_forward(x, negative_slope: float = 0.01):
    """y = x for x > 0, negative_slope x otherwise -> (y,); backward takes x."""
    return _unary_forward("leaky_relu", x, float(negative_slope))


def leaky_relu_backward(dy, x, negative_slope: float = 0.01):
    return _unary_backward("leaky_relu", dy, x, None, float(negative_slope))


def elu_forward(x, alpha: float = 1.0):
    """y = x for x > 0, alpha (e^x - 1) otherwise -> (y,); backward takes x."""
    return _unary_forward("elu", x, float(alpha))


def elu_backward(dy, x, alpha: float = 1.0):
    """dx = dy for x > 0, dy alpha e^x otherwise"""
    return _unary_backward("elu", dy, x, None, float(alpha))
