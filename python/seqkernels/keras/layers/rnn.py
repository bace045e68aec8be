"""SimpleRNN, LSTM, GRU and Bidirectional with Keras's weights, defaults and masking, on the fused RNN kernel.

Weights are Keras's: ``kernel`` (input_dim, G * units), ``recurrent_kernel`` (units, G * units), ``bias``
(G * units), or (2, 3 * units) for the ``reset_after`` GRU (input bias, recurrent bias). Gate order: LSTM i, f, c,
o (torch's i, f, g, o: the same); GRU z, r, h (torch's r, z, n: the blocks are reordered for the kernel).
Defaults: Glorot-uniform kernels, orthogonal recurrent kernels, zero biases, and the LSTM forget gate's bias at 1
(``unit_forget_bias``).

Masks: Keras skips a masked step (the state carries over; the output repeats the previous step's, zeros before
the first real step, or zeros throughout with ``zero_output_for_mask``). That equals running the kernel over each
sequence's unmasked steps moved to the front (a stable gather), with each sequence's length, and gathering the
outputs back: so any mask (pre- or post-padding, holes) runs on the kernel. ``go_backwards`` reverses the steps
first and returns the outputs in reversed order, as Keras.
"""
from __future__ import annotations

import numpy as np

from ... import Function, cat
from ...autograd_functions.rnn import RecurrentLayer
from ...random import generator
from ...tensor import Tensor
from .. import activations, initializers, regularizers
from ..engine import Layer
from .core import _positive_int, as_float


class _TimeGather(Function):
    """y[b, t] = x[b, index[b, t]] for x (B, T, F) and index (B, T') ints; ``permutation``: each step is
    picked once (the backward is a scatter, else a scatter-add)."""

    @staticmethod
    def forward(ctx, x, index, permutation):
        ctx.shape, ctx.index, ctx.permutation = x.shape, index, permutation
        return x[np.arange(x.shape[0])[:, None], index]

    @staticmethod
    def backward(ctx, g):
        gx = np.zeros(ctx.shape, np.float32)
        rows = np.arange(ctx.shape[0])[:, None]
        if ctx.permutation:
            gx[rows, ctx.index] = g
        else:
            np.add.at(gx, (rows, ctx.index), g)
        return gx, None, None


def _reverse_steps(x: Tensor) -> Tensor:
    steps = x.shape[1]
    index = np.broadcast_to(np.arange(steps - 1, -1, -1), (x.shape[0], steps))
    return _TimeGather.apply(x, index, True)


def _prefix(mask: np.ndarray, lengths: np.ndarray) -> bool:
    return bool((mask == (np.arange(mask.shape[1])[None, :] < lengths[:, None])).all())


_MODES = {"SimpleRNN": ("RNN_TANH", 1), "LSTM": ("LSTM", 4), "GRU": ("GRU", 3)}


class _RNN(Layer):
    def __init__(self, units, activation="tanh", recurrent_activation="sigmoid", use_bias=True,
                 kernel_initializer="glorot_uniform", recurrent_initializer="orthogonal", bias_initializer="zeros",
                 unit_forget_bias=True, kernel_regularizer=None, recurrent_regularizer=None, bias_regularizer=None,
                 activity_regularizer=None, kernel_constraint=None, recurrent_constraint=None, bias_constraint=None,
                 dropout=0.0, recurrent_dropout=0.0, return_sequences=False, return_state=False, go_backwards=False,
                 stateful=False, unroll=False, reset_after=True, zero_output_for_mask=False, seed=None,
                 implementation=None, time_major=False, **kwargs):
        super().__init__(**kwargs)
        kind = type(self).__name__
        self.units = _positive_int(units, kind, "units")
        self.mode, self.gates = _MODES[kind]
        self.activation = activations.get(activation)
        self.recurrent_activation = activations.get(recurrent_activation)
        if self.activation is activations.relu and kind == "SimpleRNN":
            self.mode = "RNN_RELU"
        elif self.activation is not activations.tanh:
            raise ValueError(f"{kind}: the fused kernel supports activation='tanh'"
                             f"{' or relu' if kind == 'SimpleRNN' else ''}, got {activation!r}")
        if kind != "SimpleRNN" and self.recurrent_activation is not activations.sigmoid:
            raise ValueError(f"{kind}: the fused kernel supports recurrent_activation='sigmoid', "
                             f"got {recurrent_activation!r}")
        if not reset_after and kind == "GRU":
            raise ValueError("GRU: only reset_after=True (Keras's default, cuDNN's and torch's GRU) is supported")
        if recurrent_dropout:
            raise ValueError(f"{kind}: recurrent_dropout is not supported by the fused kernel (dropout= is)")
        if stateful:
            raise ValueError(f"{kind}: stateful=True is not supported")
        if time_major:
            raise ValueError(f"{kind}: time_major=True is not supported")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout < 1.0:
            raise ValueError(f"{kind}: dropout must be a number in [0, 1), got {dropout!r}")
        self.use_bias, self.unit_forget_bias, self.reset_after = bool(use_bias), bool(unit_forget_bias), True
        self.kernel_initializer = initializers.get(kernel_initializer)
        self.recurrent_initializer = initializers.get(recurrent_initializer)
        self.bias_initializer = initializers.get(bias_initializer)
        self.kernel_regularizer = regularizers.get(kernel_regularizer)
        self.recurrent_regularizer = regularizers.get(recurrent_regularizer)
        self.bias_regularizer = regularizers.get(bias_regularizer)
        self.dropout = float(dropout)
        self.return_sequences, self.return_state = bool(return_sequences), bool(return_state)
        self.go_backwards, self.zero_output_for_mask = bool(go_backwards), bool(zero_output_for_mask)
        self.supports_masking = True

    def build(self, input_shape):
        if input_shape[-1] is None or len(input_shape) != 3:
            raise ValueError(f"{self.name}: expected inputs (batch, steps, features) with known features, "
                             f"got {input_shape}")
        width = self.gates * self.units
        self.add_weight("kernel", (input_shape[-1], width), self.kernel_initializer, self.kernel_regularizer)
        self.add_weight("recurrent_kernel", (self.units, width), self.recurrent_initializer,
                        self.recurrent_regularizer)
        if self.use_bias:
            shape = (2, width) if self.mode == "GRU" else (width,)
            bias = self.add_weight("bias", shape, self.bias_initializer, self.bias_regularizer)
            if self.mode == "LSTM" and self.unit_forget_bias:
                bias.data[self.units:2 * self.units] = 1.0

    def kernel_weights(self):
        """(w_ih, w_hh, b_ih, b_hh) in the kernel's (torch's) layout, as differentiable views of the weights."""
        if self.mode != "GRU":
            return (self.kernel.T.contiguous(), self.recurrent_kernel.T.contiguous(),
                    self.bias if self.use_bias else None, None)
        u = self.units

        def reorder(w):  # Keras's [z | r | h] blocks -> the kernel's [r | z | n], along the last axis
            axis = w.ndim - 1
            return cat([w[..., u:2 * u], w[..., :u], w[..., 2 * u:]], dim=axis)

        biases = (reorder(self.bias[0]), reorder(self.bias[1])) if self.use_bias else (None, None)
        return (reorder(self.kernel).T.contiguous(), reorder(self.recurrent_kernel).T.contiguous(), *biases)

    def _states(self, initial_state, batch: int):
        if initial_state is None:
            return None, None
        states = list(initial_state) if isinstance(initial_state, (list, tuple)) else [initial_state]
        need = 2 if self.mode == "LSTM" else 1
        if len(states) != need:
            raise ValueError(f"{self.name}: initial_state must hold {need} tensor(s), got {len(states)}")
        states = [as_float(s if isinstance(s, Tensor) else Tensor(np.asarray(s))) for s in states]
        for s in states:
            if tuple(s.shape) != (batch, self.units):
                raise ValueError(f"{self.name}: each initial state must have shape ({batch}, {self.units}), "
                                 f"got {tuple(s.shape)}")
        h0 = states[0].unsqueeze(0)
        return h0, states[1].unsqueeze(0) if need == 2 else None

    def run(self, x: Tensor, mask, training, initial_state=None):
        """(sequence output (B, T, units), [h, (c)]) with Keras's semantics, before return_* are applied."""
        batch, steps = x.shape[0], x.shape[1]
        if self.go_backwards:
            x = _reverse_steps(x)
            mask = None if mask is None else mask[:, ::-1]
        if training and self.dropout:
            keep = generator().random((batch, 1, x.shape[2])) >= self.dropout
            x = x * Tensor((keep / (1.0 - self.dropout)).astype(np.float32))
        h0, c0 = self._states(initial_state, batch)
        weights = self.kernel_weights()
        if mask is not None and mask.all():
            mask = None
        if mask is None:
            outs = RecurrentLayer.apply(x, h0, c0, *weights, mode=self.mode, lengths=None, batch_first=True)
            return outs[0], [s[0] for s in outs[1:]]
        lengths = mask.sum(axis=1).astype(np.int64)
        prefix = _prefix(mask, lengths)
        xc = x if prefix else _TimeGather.apply(x, np.argsort(~mask, axis=1, kind="stable"), True)
        outs = RecurrentLayer.apply(xc, h0, c0, *weights, mode=self.mode, lengths=np.maximum(lengths, 1),
                                    batch_first=True)
        y, states = outs[0], [s[0] for s in outs[1:]]
        empty = lengths == 0
        if empty.any():  # a fully masked sequence keeps its initial state
            keep = Tensor((~empty)[:, None].astype(np.float32))
            initial = [None if s0 is None else s0[0] for s0 in (h0, c0)]
            states = [s * keep if s0 is None else s * keep + s0 * (1.0 - keep) for s, s0 in zip(states, initial)]
        if self.return_sequences:
            last = np.cumsum(mask, axis=1) - 1  # the compact step holding each step's output
            shown = mask if self.zero_output_for_mask else last >= 0
            if not (prefix and self.zero_output_for_mask):
                y = _TimeGather.apply(y, np.maximum(last, 0), False)
            y = y * Tensor(shown[:, :, None].astype(np.float32))
        return y, states

    def call(self, inputs, mask=None, training=None, initial_state=None):
        x = as_float(inputs)
        if x.ndim != 3:
            raise ValueError(f"{self.name}: expected a 3-D input (batch, steps, features), got shape {tuple(x.shape)}")
        mask = None if mask is None else np.asarray(getattr(mask, "data", mask), bool)
        y, states = self.run(x, mask, training, initial_state)
        if self.return_sequences:
            output = y
        else:
            output = states[0]
            if mask is not None and not mask.any(axis=1).all():  # Keras: a fully masked row outputs zeros
                output = output * Tensor(mask.any(axis=1)[:, None].astype(np.float32))
        return [output, *states] if self.return_state else output

    def compute_mask(self, inputs, mask=None):
        out = mask if self.return_sequences else None
        return [out] + [None] * (2 if self.mode == "LSTM" else 1) if self.return_state else out

    def get_config(self):
        config = {**super().get_config(), "units": self.units, "activation": activations.serialize(self.activation),
                  "use_bias": self.use_bias, "return_sequences": self.return_sequences,
                  "return_state": self.return_state, "go_backwards": self.go_backwards, "dropout": self.dropout,
                  "zero_output_for_mask": self.zero_output_for_mask,
                  "kernel_initializer": initializers.serialize(self.kernel_initializer),
                  "recurrent_initializer": initializers.serialize(self.recurrent_initializer),
                  "bias_initializer": initializers.serialize(self.bias_initializer),
                  "kernel_regularizer": regularizers.serialize(self.kernel_regularizer),
                  "recurrent_regularizer": regularizers.serialize(self.recurrent_regularizer),
                  "bias_regularizer": regularizers.serialize(self.bias_regularizer)}
        if self.mode != "RNN_TANH" and self.mode != "RNN_RELU":
            config["recurrent_activation"] = activations.serialize(self.recurrent_activation)
        if self.mode == "LSTM":
            config["unit_forget_bias"] = self.unit_forget_bias
        if self.mode == "GRU":
            config["reset_after"] = True
        return config


class SimpleRNN(_RNN):
    """h_t = tanh(x_t kernel + h_{t-1} recurrent_kernel + bias)."""

    def __init__(self, units, activation="tanh", **kwargs):
        kwargs.pop("recurrent_activation", None)
        kwargs.pop("unit_forget_bias", None)
        super().__init__(units, activation=activation, **kwargs)


class LSTM(_RNN):
    """Gates i, f, c, o; ``return_state`` adds [h, c]."""


class GRU(_RNN):
    """Gates z, r, h with reset_after: h~ = tanh(x W_h + b_h + r * (h U_h + b_rh)); h' = z h + (1 - z) h~."""


class Bidirectional(Layer):
    """Runs ``layer`` forwards and a copy of it backwards (``go_backwards`` flipped, its own weights) and merges
    the outputs: ``merge_mode`` 'concat' (default), 'sum', 'mul', 'ave' or None (a list). ``get_weights`` lists
    the forward layer's weights, then the backward layer's."""

    def __init__(self, layer, merge_mode="concat", weights=None, backward_layer=None, **kwargs):
        if not isinstance(layer, _RNN):
            raise TypeError(f"Bidirectional: expected a SimpleRNN, LSTM or GRU layer, got {type(layer).__name__}")
        if merge_mode not in ("concat", "sum", "mul", "ave", None):
            raise ValueError(f"Bidirectional: merge_mode must be 'concat', 'sum', 'mul', 'ave' or None, "
                             f"got {merge_mode!r}")
        super().__init__(**kwargs)
        config = layer.get_config()
        if backward_layer is None:
            config.update(name="backward_" + layer.name, go_backwards=not layer.go_backwards)
            config.pop("trainable", None)
            backward_layer = type(layer)(**{k: v for k, v in config.items() if v is not None})
        layer.name = "forward_" + layer.name
        self.forward_layer, self.backward_layer = layer, backward_layer
        self.merge_mode = merge_mode
        if layer.return_sequences:  # as Keras: masked steps output zeros in both directions
            layer.zero_output_for_mask = backward_layer.zero_output_for_mask = True
        self.return_sequences, self.return_state = layer.return_sequences, layer.return_state
        self.supports_masking = True
        if weights is not None:
            self.set_weights(weights)

    def build(self, input_shape):
        for sub in (self.forward_layer, self.backward_layer):
            if not sub.built:
                sub.build(input_shape)
                sub.built = True

    def _merge(self, a, b):
        if self.merge_mode == "concat":
            return cat([a, b], dim=-1)
        if self.merge_mode == "sum":
            return a + b
        if self.merge_mode == "mul":
            return a * b
        if self.merge_mode == "ave":
            return (a + b) * 0.5
        return [a, b]

    def _fused(self, mask, training, initial_state) -> bool:
        f, b = self.forward_layer, self.backward_layer
        if initial_state is not None or (training and (f.dropout or b.dropout)) or f.go_backwards \
                or not b.go_backwards or type(f) is not type(b) or f.use_bias != b.use_bias:
            return False
        if mask is None:
            return True
        lengths = mask.sum(axis=1)
        # the kernel's reverse direction starts at each sequence's own end and outputs zeros at padded steps
        return bool(lengths.min() > 0 and _prefix(mask, lengths)
                    and (not self.return_sequences or (f.zero_output_for_mask and b.zero_output_for_mask)))

    def call(self, inputs, mask=None, training=None, initial_state=None):
        x = as_float(inputs)
        if x.ndim != 3:
            raise ValueError(f"{self.name}: expected a 3-D input (batch, steps, features), got shape {tuple(x.shape)}")
        mask = None if mask is None else np.asarray(getattr(mask, "data", mask), bool)
        if mask is not None and mask.all():
            mask = None
        f, b = self.forward_layer, self.backward_layer
        if self._fused(mask, training, initial_state):
            lengths = None if mask is None else mask.sum(axis=1).astype(np.int64)
            outs = RecurrentLayer.apply(x, None, None, *f.kernel_weights(), *b.kernel_weights(), mode=f.mode,
                                        lengths=lengths, batch_first=True)
            y, states = outs[0], outs[1:]
            fw_states, bw_states = [s[0] for s in states], [s[1] for s in states]
            if self.return_sequences:
                u = f.units
                output = y if self.merge_mode == "concat" else self._merge(y[:, :, :u], y[:, :, u:])
            else:
                output = self._merge(fw_states[0], bw_states[0])
        else:
            half = None if initial_state is None else len(initial_state) // 2
            fw_init = None if initial_state is None else initial_state[:half]
            bw_init = None if initial_state is None else initial_state[half:]
            yf, fw_states = f.run(x, mask, training, fw_init)
            yb, bw_states = b.run(x, mask, training, bw_init)
            if self.return_sequences:
                output = self._merge(yf, _reverse_steps(yb))
            else:
                last = []
                for layer_states in (fw_states, bw_states):
                    h = layer_states[0]
                    if mask is not None and not mask.any(axis=1).all():
                        h = h * Tensor(mask.any(axis=1)[:, None].astype(np.float32))
                    last.append(h)
                output = self._merge(*last)
        if self.return_state:
            return ([*output] if isinstance(output, list) else [output]) + list(fw_states) + list(bw_states)
        return output

    def compute_mask(self, inputs, mask=None):
        out = mask if self.return_sequences else None
        if self.return_state:
            states = 2 * (2 if self.forward_layer.mode == "LSTM" else 1)
            return [out] * (2 if self.merge_mode is None else 1) + [None] * states
        return [out, out] if self.merge_mode is None else out

    def get_config(self):
        from ..saving import serialize_layer
        return {**super().get_config(), "layer": serialize_layer(self.forward_layer, strip_prefix="forward_"),
                "merge_mode": self.merge_mode}

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from ..saving import deserialize_layer
        config = dict(config)
        layer = deserialize_layer(config.pop("layer"), custom_objects)
        return cls(layer, **config)
