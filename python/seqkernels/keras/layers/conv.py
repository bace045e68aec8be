"""Conv1D and the 1-D pooling layers, channels-last ((batch, steps, channels)) as Keras, over the conv1d /
pooling kernels (which work channels-first: the layers transpose around them)."""
from __future__ import annotations

import numpy as np

from ... import cat
from ... import functional as F
from ...tensor import Tensor
from .. import activations, initializers, regularizers
from ..engine import Layer
from .core import _positive_int, as_float


def _one(value, layer: str, name: str) -> int:
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    return _positive_int(value, layer, name)


def _padding(padding, layer: str, allowed=("valid", "same", "causal")) -> str:
    if not isinstance(padding, str) or padding.lower() not in allowed:
        raise ValueError(f"{layer}: padding must be one of {allowed}, got {padding!r}")
    return padding.lower()


def same_pads(length: int, window: int, stride: int) -> tuple:
    """TF's 'same' padding: ceil(length / stride) outputs, the odd padded step on the right."""
    out = -(-length // stride)
    total = max((out - 1) * stride + window - length, 0)
    return total // 2, total - total // 2


def _pad_steps(x: Tensor, left: int, right: int, value: float = 0.0) -> Tensor:
    """Pads the steps axis of a channels-first (batch, channels, steps) tensor."""
    parts = []
    if left:
        parts.append(Tensor(np.full((x.shape[0], x.shape[1], left), value, np.float32)))
    parts.append(x)
    if right:
        parts.append(Tensor(np.full((x.shape[0], x.shape[1], right), value, np.float32)))
    return cat(parts, dim=2) if len(parts) > 1 else x


def _check_3d(x: Tensor, layer: str):
    if x.ndim != 3:
        raise ValueError(f"{layer}: expected a 3-D input (batch, steps, channels), got shape {tuple(x.shape)}")


class Conv1D(Layer):
    """kernel (kernel_size, input_channels / groups, filters), bias (filters,); padding 'valid', 'same' (TF's,
    any stride) or 'causal' (dilation_rate * (kernel_size - 1) zeros on the left)."""

    def __init__(self, filters, kernel_size, strides=1, padding="valid", data_format=None, dilation_rate=1, groups=1,
                 activation=None, use_bias=True, kernel_initializer="glorot_uniform", bias_initializer="zeros",
                 kernel_regularizer=None, bias_regularizer=None, activity_regularizer=None, kernel_constraint=None,
                 bias_constraint=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise ValueError(f"Conv1D: only data_format='channels_last' is supported, got {data_format!r}")
        self.filters = _positive_int(filters, "Conv1D", "filters")
        self.kernel_size = _one(kernel_size, "Conv1D", "kernel_size")
        self.strides = _one(strides, "Conv1D", "strides")
        self.dilation_rate = _one(dilation_rate, "Conv1D", "dilation_rate")
        self.groups = _positive_int(groups, "Conv1D", "groups")
        self.padding = _padding(padding, "Conv1D")
        if self.filters % self.groups:
            raise ValueError(f"Conv1D: filters ({self.filters}) must be divisible by groups ({self.groups})")
        self.activation = activations.get(activation)
        self.use_bias = bool(use_bias)
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)

    def build(self, input_shape):
        channels = input_shape[-1]
        if channels is None or channels % self.groups:
            raise ValueError(f"{self.name}: input channels must be known and divisible by groups={self.groups}, "
                             f"got input shape {input_shape}")
        self.add_weight("kernel", (self.kernel_size, channels // self.groups, self.filters), self.kernel_initializer,
                        self.kernel_regularizer)
        if self.use_bias:
            self.add_weight("bias", (self.filters,), self.bias_initializer, self.bias_regularizer)

    def call(self, inputs):
        x = as_float(inputs)
        _check_3d(x, self.name)
        span = self.dilation_rate * (self.kernel_size - 1) + 1
        if self.padding == "valid":
            left = right = 0
        elif self.padding == "causal":
            left, right = span - 1, 0
        else:
            left, right = same_pads(x.shape[1], span, self.strides)
        if x.shape[1] + left + right < span:
            raise ValueError(f"{self.name}: {x.shape[1]} steps are fewer than the kernel's span {span} "
                             f"(padding={self.padding!r})")
        xc = x.transpose(1, 2)
        if left != right:
            xc, left, right = _pad_steps(xc, left, right), 0, 0
        y = F.conv1d(xc, self.kernel.permute(2, 1, 0), self.bias if self.use_bias else None, stride=self.strides,
                     padding=left, dilation=self.dilation_rate, groups=self.groups)
        return self.activation(y.transpose(1, 2))

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": [self.kernel_size],
                "strides": [self.strides], "padding": self.padding, "dilation_rate": [self.dilation_rate],
                "groups": self.groups, "activation": activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": initializers.serialize(self.kernel_initializer),
                "bias_initializer": initializers.serialize(self.bias_initializer),
                "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                "bias_regularizer": regularizers.serialize(self.bias_regularizer)}


class _Pooling1D(Layer):
    def __init__(self, pool_size=2, strides=None, padding="valid", data_format=None, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{type(self).__name__}: only data_format='channels_last' is supported")
        self.pool_size = _one(pool_size, type(self).__name__, "pool_size")
        self.strides = self.pool_size if strides is None else _one(strides, type(self).__name__, "strides")
        self.padding = _padding(padding, type(self).__name__, ("valid", "same"))

    def _pads(self, length):
        if self.padding == "valid":
            if length < self.pool_size:
                raise ValueError(f"{self.name}: {length} steps are fewer than pool_size={self.pool_size}")
            return 0, 0
        return same_pads(length, self.pool_size, self.strides)

    def get_config(self):
        return {**super().get_config(), "pool_size": [self.pool_size], "strides": [self.strides],
                "padding": self.padding}


class MaxPooling1D(_Pooling1D):
    def call(self, inputs):
        x = as_float(inputs)
        _check_3d(x, self.name)
        left, right = self._pads(x.shape[1])
        xc = _pad_steps(x.transpose(1, 2), left, right, -np.inf)
        return F.max_pool1d(xc, self.pool_size, self.strides).transpose(1, 2)


class AveragePooling1D(_Pooling1D):
    """The mean over each window; with padding='same' padded steps do not count (TF's SAME average)."""

    def call(self, inputs):
        x = as_float(inputs)
        _check_3d(x, self.name)
        length = x.shape[1]
        left, right = self._pads(length)
        y = F.avg_pool1d(_pad_steps(x.transpose(1, 2), left, right), self.pool_size, self.strides)
        if left or right:
            starts = np.arange(y.shape[2]) * self.strides - left
            counts = np.minimum(starts + self.pool_size, length) - np.maximum(starts, 0)
            y = y * Tensor((self.pool_size / counts).astype(np.float32))
        return y.transpose(1, 2)


class _GlobalPooling1D(Layer):
    def __init__(self, data_format=None, keepdims=False, **kwargs):
        super().__init__(**kwargs)
        if data_format not in (None, "channels_last"):
            raise ValueError(f"{type(self).__name__}: only data_format='channels_last' is supported")
        self.keepdims = bool(keepdims)
        self.supports_masking = True

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        return {**super().get_config(), "keepdims": self.keepdims}


class GlobalMaxPooling1D(_GlobalPooling1D):
    """The maximum over steps (a mask is ignored, as Keras does)."""

    def call(self, inputs):
        x = as_float(inputs)
        _check_3d(x, self.name)
        return x.max(dim=1, keepdim=self.keepdims)[0]


class GlobalAveragePooling1D(_GlobalPooling1D):
    """The mean over steps; with a mask, over the unmasked steps only (a fully masked row gives zeros, where
    Keras gives NaN)."""

    def call(self, inputs, mask=None):
        x = as_float(inputs)
        _check_3d(x, self.name)
        if mask is None:
            return x.mean(dim=1, keepdim=self.keepdims)
        weights = np.asarray(mask, np.float32)[:, :, None]
        total = (x * Tensor(weights)).sum(dim=1, keepdim=self.keepdims)
        counts = weights.sum(axis=1, keepdims=self.keepdims)
        return total / Tensor(np.maximum(counts, 1.0))  # a fully masked row gives 0, not NaN


GlobalMaxPool1D, GlobalAvgPool1D, MaxPool1D, AvgPool1D = (GlobalMaxPooling1D, GlobalAveragePooling1D,
                                                          MaxPooling1D, AveragePooling1D)
