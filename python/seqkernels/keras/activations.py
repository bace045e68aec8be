"""Keras's activations by name (``activation="relu"``), over seqkernels Tensors."""
from __future__ import annotations

from .. import functional as F
from .. import where


def linear(x):
    return x


def relu(x):
    return x.relu()


def sigmoid(x):
    return x.sigmoid()


def tanh(x):
    return x.tanh()


def softmax(x, axis=-1):
    return F.softmax(x, dim=axis)


def log_softmax(x, axis=-1):
    return F.log_softmax(x, dim=axis)


def gelu(x, approximate=False):
    return F.gelu(x, approximate="tanh" if approximate else "none")


def elu(x, alpha=1.0):
    return where(x > 0, x, (x.exp() - 1.0) * alpha)


def selu(x):
    alpha, scale = 1.6732632423543772, 1.0507009873554805
    return where(x > 0, x, (x.exp() - 1.0) * alpha) * scale


def softplus(x):
    # log(1 + e^x) = max(x, 0) + log(1 + e^-|x|), stable for large |x|
    return x.relu() + ((-x.abs()).exp() + 1.0).log()


def silu(x):
    return x * x.sigmoid()


def exponential(x):
    return x.exp()


swish = silu
_ACTIVATIONS = {"linear": linear, "relu": relu, "sigmoid": sigmoid, "tanh": tanh, "softmax": softmax,
                "log_softmax": log_softmax, "gelu": gelu, "elu": elu, "selu": selu, "softplus": softplus,
                "silu": silu, "swish": swish, "exponential": exponential}


def get(identifier):
    """An activation function from a name, ``None`` (linear) or a callable."""
    if identifier is None:
        return linear
    if isinstance(identifier, str):
        if identifier not in _ACTIVATIONS:
            raise ValueError(f"unknown activation {identifier!r}; expected one of {', '.join(sorted(_ACTIVATIONS))}")
        return _ACTIVATIONS[identifier]
    if callable(identifier):
        return identifier
    raise TypeError(f"activation must be a name or a callable, got {type(identifier).__name__}")


def serialize(fn) -> str:
    for name, f in _ACTIVATIONS.items():
        if f is fn:
            return name
    return getattr(fn, "__name__", "linear")


__all__ = sorted(_ACTIVATIONS) + ["get", "serialize"]
