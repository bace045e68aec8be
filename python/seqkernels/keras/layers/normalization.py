"""LayerNormalization and BatchNormalization over the last axis (Keras's epsilon 1e-3, momentum 0.99)."""
from __future__ import annotations

import numpy as np

from ... import functional as F
from .. import initializers, regularizers
from ..engine import Layer
from .core import as_float


class _Normalization(Layer):
    """What both layers share: one (last) axis, ``epsilon``, and the learned scale ``gamma`` and offset ``beta``
    (each optional: ``scale`` / ``center``) with their initializers and regularizers."""

    def __init__(self, axis, epsilon, center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                 gamma_regularizer, **kwargs):
        super().__init__(**kwargs)
        if axis not in (-1, [-1], (-1,)) and not isinstance(axis, int):
            raise ValueError(f"{type(self).__name__}: only a single (last) axis is supported, got axis={axis!r}")
        self.axis = axis if isinstance(axis, int) else -1
        self.epsilon, self.center, self.scale = float(epsilon), bool(center), bool(scale)
        self.beta_initializer = initializers.get(beta_initializer)
        self.gamma_initializer = initializers.get(gamma_initializer)
        self.beta_regularizer = regularizers.get(beta_regularizer)
        self.gamma_regularizer = regularizers.get(gamma_regularizer)
        self.supports_masking = True

    def build(self, input_shape):
        if self.axis not in (-1, len(input_shape) - 1):
            raise ValueError(f"{self.name}: only the last axis is supported, got axis={self.axis}")
        dim = input_shape[-1]
        if self.scale:
            self.add_weight("gamma", (dim,), self.gamma_initializer, self.gamma_regularizer)
        if self.center:
            self.add_weight("beta", (dim,), self.beta_initializer, self.beta_regularizer)

    def get_config(self):
        return {**super().get_config(), "axis": self.axis, "epsilon": self.epsilon, "center": self.center,
                "scale": self.scale}


class LayerNormalization(_Normalization):
    """(x - mean) / sqrt(var + epsilon) * gamma + beta over the last axis (the layer_norm kernel)."""

    def __init__(self, axis=-1, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", beta_regularizer=None, gamma_regularizer=None, **kwargs):
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                         gamma_regularizer, **kwargs)

    def call(self, inputs):
        x = as_float(inputs)
        return F.layer_norm(x, (x.shape[-1],), self.gamma if self.scale else None,
                            self.beta if self.center else None, eps=self.epsilon)


class BatchNormalization(_Normalization):
    """Normalises each feature (last axis) by the batch's mean and (biased) variance while training, updating
    ``moving_mean`` / ``moving_variance`` by ``momentum``; by the moving statistics in inference."""

    def __init__(self, axis=-1, momentum=0.99, epsilon=1e-3, center=True, scale=True, beta_initializer="zeros",
                 gamma_initializer="ones", moving_mean_initializer="zeros", moving_variance_initializer="ones",
                 beta_regularizer=None, gamma_regularizer=None, **kwargs):
        super().__init__(axis, epsilon, center, scale, beta_initializer, gamma_initializer, beta_regularizer,
                         gamma_regularizer, **kwargs)
        self.momentum = float(momentum)
        self.moving_mean_initializer = initializers.get(moving_mean_initializer)
        self.moving_variance_initializer = initializers.get(moving_variance_initializer)

    def build(self, input_shape):
        super().build(input_shape)
        dim = input_shape[-1]
        self.add_weight("moving_mean", (dim,), self.moving_mean_initializer, trainable=False)
        self.add_weight("moving_variance", (dim,), self.moving_variance_initializer, trainable=False)

    def call(self, inputs, training=None):
        x = as_float(inputs)
        axes = tuple(range(x.ndim - 1))
        if training and self._trainable:
            mean = x.mean(dim=axes, keepdim=True)
            centred = x - mean
            var = (centred * centred).mean(dim=axes, keepdim=True)
            m = self.momentum
            self.moving_mean.data[...] = self.moving_mean.data * m + mean.data.reshape(-1) * (1.0 - m)
            self.moving_variance.data[...] = self.moving_variance.data * m + var.data.reshape(-1) * (1.0 - m)
            y = centred / (var + self.epsilon).sqrt()
        else:
            y = (x - self.moving_mean) * (1.0 / np.sqrt(self.moving_variance.data + self.epsilon)).astype(np.float32)
        if self.scale:
            y = y * self.gamma
        if self.center:
            y = y + self.beta
        return y

    def get_config(self):
        return {**super().get_config(), "momentum": self.momentum}
