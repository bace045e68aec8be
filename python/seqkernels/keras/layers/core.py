"""Core Keras layers: Dense, Embedding, Activation, Dropout, SpatialDropout1D, Flatten, Reshape, Permute,
RepeatVector, Lambda, Masking."""
from __future__ import annotations

import numpy as np

from ... import functional as F
from ...random import generator
from ...tensor import Tensor
from .. import activations, initializers, regularizers
from ..engine import Layer


def _positive_int(value, layer: str, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{layer}: argument '{name}' must be a positive int, got {value!r}")
    return int(value)


def _rate(value, layer: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value < 1.0:
        raise ValueError(f"{layer}: argument 'rate' must be a number in [0, 1), got {value!r}")
    return float(value)


def as_float(x: Tensor) -> Tensor:
    return x if x.dtype == np.float32 else x.float()


class Dense(Layer):
    """``activation(inputs @ kernel + bias)`` over the last axis; kernel (input_dim, units), bias (units,)."""

    def __init__(self, units, activation=None, use_bias=True, kernel_initializer="glorot_uniform",
                 bias_initializer="zeros", kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None,
                 kernel_constraint=None, bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        self.units = _positive_int(units, "Dense", "units")
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.supports_masking = True

    def build(self, input_shape):
        if input_shape[-1] is None:
            raise ValueError(f"{self.name}: the last dimension of the input must be known, got {input_shape}")
        self.add_weight("kernel", (input_shape[-1], self.units), self.kernel_initializer, self.kernel_regularizer)
        if self.use_bias:
            self.add_weight("bias", (self.units,), self.bias_initializer, self.bias_regularizer)

    def call(self, inputs):
        x = as_float(inputs)
        if x.shape[-1] != self.kernel.shape[0]:
            raise ValueError(f"{self.name}: expected inputs with last dimension {self.kernel.shape[0]}, "
                             f"got shape {tuple(x.shape)}")
        lead = x.shape[:-1]
        y = x.reshape(-1, x.shape[-1]) @ self.kernel if x.ndim != 2 else x @ self.kernel
        if self.use_bias:
            y = y + self.bias
        if x.ndim != 2:
            y = y.reshape(*lead, self.units)
        return self.activation(y)

    def get_config(self):
        return {**super().get_config(), "units": self.units, "activation": activations.serialize(self.activation),
                "use_bias": self.use_bias, "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer)}


class Embedding(Layer):
    """Rows of ``embeddings`` (input_dim, output_dim) for integer ids; ``mask_zero`` masks id 0 for the layers
    downstream (so id 0 is padding and ``input_dim`` counts it)."""

    def __init__(self, input_dim, output_dim, embeddings_initializer="uniform", embeddings_regularizer=None,
                 activity_regularizer=None, embeddings_constraint=None, mask_zero=False, input_length=None,
                 **kwargs):
        super().__init__(**kwargs)
        self.input_dim = _positive_int(input_dim, "Embedding", "input_dim")
        self.output_dim = _positive_int(output_dim, "Embedding", "output_dim")
        self.embeddings_initializer = initializers.get(embeddings_initializer)
        self.embeddings_regularizer = regularizers.get(embeddings_regularizer)
        self.mask_zero = bool(mask_zero)

    def build(self, input_shape):
        self.add_weight("embeddings", (self.input_dim, self.output_dim), self.embeddings_initializer,
                        self.embeddings_regularizer)

    def call(self, inputs):
        ids = inputs if inputs.dtype.kind in "iu" else Tensor(inputs.data.astype(np.int64))
        return F.embedding(ids, self.embeddings)

    def compute_mask(self, inputs, mask=None):
        if not self.mask_zero:
            return None
        return np.asarray(inputs.data if isinstance(inputs, Tensor) else inputs) != 0

    def get_config(self):
        return {**super().get_config(), "input_dim": self.input_dim, "output_dim": self.output_dim,
                "embeddings_initializer": initializers.serialize(self.embeddings_initializer),
                "embeddings_regularizer": regularizers.serialize(self.embeddings_regularizer),
                "mask_zero": self.mask_zero}


class Activation(Layer):
    def __init__(self, activation, **kwargs):
        super().__init__(**kwargs)
        self.activation = activations.get(activation)
        self.supports_masking = True

    def call(self, inputs):
        return self.activation(as_float(inputs))

    def get_config(self):
        return {**super().get_config(), "activation": activations.serialize(self.activation)}


class Dropout(Layer):
    """Zeroes a ``rate`` fraction of the inputs while training and scales the rest by 1 / (1 - rate)."""

    def __init__(self, rate, noise_shape=None, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.rate = _rate(rate, "Dropout")
        if noise_shape is not None:
            raise ValueError("Dropout: noise_shape is not supported (SpatialDropout1D drops whole channels)")
        self.seed = seed
        self.supports_masking = True

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        return F.dropout(as_float(inputs), self.rate, True)

    def get_config(self):
        return {**super().get_config(), "rate": self.rate, "seed": self.seed}


class SpatialDropout1D(Dropout):
    """Dropout of whole channels: one keep/drop draw per (sample, channel), shared by every step."""

    def call(self, inputs, training=None):
        if not training or self.rate == 0.0:
            return inputs
        x = as_float(inputs)
        if x.ndim != 3:
            raise ValueError(f"{self.name}: expected a 3-D input (batch, steps, channels), got shape {tuple(x.shape)}")
        keep = generator().random((x.shape[0], 1, x.shape[2])) >= self.rate
        return x * Tensor((keep / (1.0 - self.rate)).astype(np.float32))


class Flatten(Layer):
    def call(self, inputs):
        return inputs.reshape(inputs.shape[0], -1)


class Reshape(Layer):
    def __init__(self, target_shape, **kwargs):
        super().__init__(**kwargs)
        self.target_shape = tuple(int(d) for d in target_shape)
        if sum(d == -1 for d in self.target_shape) > 1:
            raise ValueError(f"Reshape: at most one dimension may be -1, got {self.target_shape}")

    def call(self, inputs):
        return inputs.reshape(inputs.shape[0], *self.target_shape)

    def get_config(self):
        return {**super().get_config(), "target_shape": list(self.target_shape)}


class Permute(Layer):
    """Permutes the non-batch axes; ``dims`` counts from 1, as Keras."""

    def __init__(self, dims, **kwargs):
        super().__init__(**kwargs)
        self.dims = tuple(int(d) for d in dims)
        if sorted(self.dims) != list(range(1, len(self.dims) + 1)):
            raise ValueError(f"Permute: dims must be a permutation of 1..{len(self.dims)}, got {self.dims}")

    def call(self, inputs):
        return inputs.permute(0, *self.dims).contiguous()

    def get_config(self):
        return {**super().get_config(), "dims": list(self.dims)}


class RepeatVector(Layer):
    def __init__(self, n, **kwargs):
        super().__init__(**kwargs)
        self.n = _positive_int(n, "RepeatVector", "n")

    def call(self, inputs):
        return inputs.unsqueeze(1).expand(inputs.shape[0], self.n, inputs.shape[1])

    def get_config(self):
        return {**super().get_config(), "n": self.n}


class Lambda(Layer):
    """Wraps ``function(inputs, **arguments)`` as a layer (no weights); saved models keep it only by name,
    as Keras's safe mode, so ``load_model`` needs it in ``custom_objects``."""

    def __init__(self, function, output_shape=None, mask=None, arguments=None, **kwargs):
        super().__init__(**kwargs)
        if not callable(function):
            raise TypeError(f"Lambda: function must be callable, got {type(function).__name__}")
        self.function, self.arguments = function, dict(arguments or {})
        self.supports_masking = mask is not None

    def call(self, inputs):
        return self.function(inputs, **self.arguments)

    def get_config(self):
        return {**super().get_config(), "function": getattr(self.function, "__name__", "<lambda>"),
                "arguments": self.arguments}


class Masking(Layer):
    """Masks steps whose features all equal ``mask_value`` (and zeroes them)."""

    def __init__(self, mask_value=0.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = float(mask_value)
        self.supports_masking = True

    def call(self, inputs):
        keep = (inputs.data != self.mask_value).any(axis=-1, keepdims=True)
        return inputs * Tensor(keep.astype(np.float32))

    def compute_mask(self, inputs, mask=None):
        return (np.asarray(inputs.data) != self.mask_value).any(axis=-1)

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}
