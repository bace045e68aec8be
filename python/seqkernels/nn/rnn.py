"""Recurrent layers mirroring ``torch.nn``: ``RNN``, ``LSTM``, ``GRU`` and ``RNNCell``, ``LSTMCell``, ``GRUCell``.

Parameter names, shapes, gate order and initialisation are torch's (``weight_ih_l{k}`` (G*H, in),
``weight_hh_l{k}`` (G*H, H), ``bias_ih_l{k}``, ``bias_hh_l{k}``, ``_reverse`` for the backward direction;
every parameter U(-1/sqrt(H), 1/sqrt(H))), so torch state dicts load unchanged. Each layer of a stack is one
fused kernel call per direction (see ``seqkernels/ops/rnn.py``).

Variable lengths: ``forward(input, hx=None, lengths=None)`` takes the real length of each sequence (1-D ints,
each in [1, T]). The results equal torch's packed sequences: padded steps leave the state unchanged and
output zeros, the reverse direction starts at each sequence's own end, and ``h_n`` / ``c_n`` hold each
sequence's last real step. The output keeps the input's full length T (``pad_packed_sequence`` with
``total_length=T``).
"""
from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from ..autograd_functions.rnn import RecurrentLayer
from ..ops.rnn import GATES
from ..tensor_functions import cat
from ..tensor import Tensor
from . import init
from .module import Module
from .parameter import Parameter


def _checked_int(value, layer: str, name: str, minimum: int) -> int:
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{layer}: argument '{name}' must be an int, got {type(value).__name__}")
    if value < minimum:
        raise ValueError(f"{layer}: argument '{name}' must be >= {minimum}, got {value}")
    return int(value)


def _nonlinearity_mode(nonlinearity, layer: str) -> str:
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"{layer}: argument 'nonlinearity' must be 'tanh' or 'relu', got {nonlinearity!r}")
    return "RNN_TANH" if nonlinearity == "tanh" else "RNN_RELU"


def _as_tensor(value, layer: str, name: str) -> Tensor:
    if isinstance(value, Tensor):
        return value
    if isinstance(value, np.ndarray):
        return Tensor(value)
    raise TypeError(f"{layer}: argument '{name}' must be a Tensor, got {type(value).__name__}")


def _check_state(state, shape, layer: str, name: str) -> Tensor:
    state = _as_tensor(state, layer, name)
    if state.shape != tuple(shape):
        raise ValueError(f"{layer}: argument '{name}' must have shape {tuple(shape)}, got {state.shape}")
    return state


def _lengths_array(lengths, batch: int, steps: int, layer: str) -> np.ndarray:
    arr = np.asarray(lengths.data if isinstance(lengths, Tensor) else lengths)
    if arr.dtype.kind not in "iu":
        raise TypeError(f"{layer}: argument 'lengths' must hold integers, got dtype {arr.dtype}")
    if arr.shape != (batch,):
        raise ValueError(f"{layer}: argument 'lengths' must have shape ({batch},) (one per sequence), got {arr.shape}")
    if arr.size and (arr.min() < 1 or arr.max() > steps):
        raise ValueError(f"{layer}: lengths must lie in [1, {steps}] (the sequence length), "
                         f"got values in [{arr.min()}, {arr.max()}]")
    return arr.astype(np.int64)


class RNNBase(Module):
    """A stack of recurrent layers of one cell type (``mode``: 'RNN_TANH', 'RNN_RELU', 'LSTM' or 'GRU')."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False):
        super().__init__()
        name = type(self).__name__
        self.mode = mode
        self.input_size = _checked_int(input_size, name, "input_size", 1)
        self.hidden_size = _checked_int(hidden_size, name, "hidden_size", 1)
        self.num_layers = _checked_int(num_layers, name, "num_layers", 1)
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float)) or not 0.0 <= dropout <= 1.0:
            raise ValueError(f"{name}: argument 'dropout' must be a number in [0, 1], got {dropout!r}")
        self.bias, self.batch_first, self.bidirectional = bool(bias), bool(batch_first), bool(bidirectional)
        self.dropout = float(dropout)
        directions = 2 if self.bidirectional else 1
        gate_rows = GATES[mode] * self.hidden_size
        self._weight_names = []  # per layer: per direction (w_ih, w_hh, b_ih, b_hh) names
        for layer in range(self.num_layers):
            layer_input = self.input_size if layer == 0 else self.hidden_size * directions
            names = []
            for suffix in ["", "_reverse"][:directions]:
                shapes = {f"weight_ih_l{layer}{suffix}": (gate_rows, layer_input),
                          f"weight_hh_l{layer}{suffix}": (gate_rows, self.hidden_size)}
                if self.bias:
                    shapes[f"bias_ih_l{layer}{suffix}"] = (gate_rows,)
                    shapes[f"bias_hh_l{layer}{suffix}"] = (gate_rows,)
                for pname, shape in shapes.items():
                    setattr(self, pname, Parameter(np.empty(shape, np.float32)))
                names.extend(list(shapes) if self.bias else list(shapes) + [None, None])
            self._weight_names.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def forward(self, input, hx=None, lengths=None):
        name = type(self).__name__
        lstm = self.mode == "LSTM"
        input = _as_tensor(input, name, "input")
        if input.ndim not in (2, 3):
            raise ValueError(f"{name}: expected a 2-D (unbatched) or 3-D input, got shape {input.shape}")
        if input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input.size(-1) must equal input_size={self.input_size}, got {input.shape[-1]}")
        batched = input.ndim == 3
        batch_first = self.batch_first and batched
        if not batched:
            input = input.unsqueeze(1)
        steps, batch = (input.shape[1], input.shape[0]) if batch_first else (input.shape[0], input.shape[1])
        directions = 2 if self.bidirectional else 1
        state_shape = (self.num_layers * directions, batch, self.hidden_size) if batched else \
            (self.num_layers * directions, self.hidden_size)
        h0 = c0 = None
        if hx is not None:
            if lstm:
                if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                    raise TypeError(f"{name}: argument 'hx' must be a tuple (h_0, c_0), got {type(hx).__name__}")
                h0, c0 = (_check_state(s, state_shape, name, n) for s, n in zip(hx, ("h_0", "c_0")))
            else:
                h0 = _check_state(hx, state_shape, name, "hx")
            if not batched:
                h0 = h0.unsqueeze(1)
                c0 = None if c0 is None else c0.unsqueeze(1)
        lengths = None if lengths is None else _lengths_array(lengths, batch, steps, name)

        h_last, c_last = [], []
        output = input
        for layer, names in enumerate(self._weight_names):
            if layer > 0 and self.dropout > 0.0 and self.training:
                output = F.dropout(output, self.dropout, True)
            span = slice(layer * directions, (layer + 1) * directions)
            weights = [None if n is None else getattr(self, n) for n in names]
            outs = RecurrentLayer.apply(output, None if h0 is None else h0[span], None if c0 is None else c0[span],
                                        *weights, mode=self.mode, lengths=lengths, batch_first=batch_first)
            output = outs[0]
            h_last.append(outs[1])
            if lstm:
                c_last.append(outs[2])
        h_n = h_last[0] if len(h_last) == 1 else cat(h_last, 0)
        c_n = (c_last[0] if len(c_last) == 1 else cat(c_last, 0)) if lstm else None
        if not batched:
            output, h_n = output.squeeze(1), h_n.squeeze(1)
            c_n = None if c_n is None else c_n.squeeze(1)
        return (output, (h_n, c_n)) if lstm else (output, h_n)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        for key, default in (("bias", True), ("batch_first", False), ("dropout", 0.0), ("bidirectional", False)):
            if getattr(self, key) != default:
                s += f", {key}={getattr(self, key)}"
        return s


class RNN(RNNBase):
    """Elman RNN: h' = tanh|relu(W_ih x + b_ih + W_hh h + b_hh), as ``torch.nn.RNN``."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, nonlinearity: str = "tanh",
                 bias: bool = True, batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False):
        super().__init__(_nonlinearity_mode(nonlinearity, "RNN"), input_size, hidden_size, num_layers, bias,
                         batch_first, dropout, bidirectional)
        self.nonlinearity = nonlinearity


class LSTM(RNNBase):
    """LSTM with gates i, f, g, o (``torch.nn.LSTM`` without ``proj_size``); returns (output, (h_n, c_n))."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False):
        super().__init__("LSTM", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional)


class GRU(RNNBase):
    """GRU with gates r, z, n and n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), as ``torch.nn.GRU``."""

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False):
        super().__init__("GRU", input_size, hidden_size, num_layers, bias, batch_first, dropout, bidirectional)


class RNNCellBase(Module):
    """One step of a recurrent cell: the layer kernel over a single time step."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__()
        name = type(self).__name__
        self.mode = mode
        self.input_size = _checked_int(input_size, name, "input_size", 1)
        self.hidden_size = _checked_int(hidden_size, name, "hidden_size", 1)
        self.bias = bool(bias)
        rows = GATES[mode] * self.hidden_size
        self.weight_ih = Parameter(np.empty((rows, self.input_size), np.float32))
        self.weight_hh = Parameter(np.empty((rows, self.hidden_size), np.float32))
        self.bias_ih = Parameter(np.empty(rows, np.float32)) if self.bias else None
        self.bias_hh = Parameter(np.empty(rows, np.float32)) if self.bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self.parameters():
            init.uniform_(p, -bound, bound)

    def _step(self, input, states):
        """New (h, c) (c None unless LSTM) from input (B, I) or (I,) and the states given (None: zeros)."""
        name = type(self).__name__
        input = _as_tensor(input, name, "input")
        if input.ndim not in (1, 2) or input.shape[-1] != self.input_size:
            raise ValueError(f"{name}: input must have shape (batch, {self.input_size}) or ({self.input_size},), "
                             f"got {input.shape}")
        batched = input.ndim == 2
        shape = (input.shape[0], self.hidden_size) if batched else (self.hidden_size,)
        checked = [None if s is None else _check_state(s, shape, name, n) for s, n in states]
        if not batched:
            input = input.unsqueeze(0)
            checked = [None if s is None else s.unsqueeze(0) for s in checked]
        h, c = (checked + [None])[:2]
        outs = RecurrentLayer.apply(input.unsqueeze(0), None if h is None else h.unsqueeze(0),
                                    None if c is None else c.unsqueeze(0), self.weight_ih, self.weight_hh,
                                    self.bias_ih, self.bias_hh, mode=self.mode, lengths=None, batch_first=False)
        new = [o[0] if batched else o[0, 0] for o in outs[1:]]
        return new[0], (new[1] if len(new) > 1 else None)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if not self.bias:
            s += ", bias=False"
        if self.mode == "RNN_RELU":
            s += ", nonlinearity='relu'"
        return s


class RNNCell(RNNCellBase):
    """h' = tanh|relu(W_ih x + b_ih + W_hh h + b_hh), as ``torch.nn.RNNCell``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh"):
        super().__init__(_nonlinearity_mode(nonlinearity, "RNNCell"), input_size, hidden_size, bias)
        self.nonlinearity = nonlinearity

    def forward(self, input, hx=None):
        return self._step(input, [(hx, "hx")])[0]


class LSTMCell(RNNCellBase):
    """One LSTM step, as ``torch.nn.LSTMCell``: forward(input, (h, c)) -> (h', c')."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__("LSTM", input_size, hidden_size, bias)

    def forward(self, input, hx=None):
        if hx is not None and (not isinstance(hx, (tuple, list)) or len(hx) != 2):
            raise TypeError(f"LSTMCell: argument 'hx' must be a tuple (h, c), got {type(hx).__name__}")
        h, c = (None, None) if hx is None else hx
        return self._step(input, [(h, "h"), (c, "c")])


class GRUCell(RNNCellBase):
    """One GRU step, as ``torch.nn.GRUCell``."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool = True):
        super().__init__("GRU", input_size, hidden_size, bias)

    def forward(self, input, hx=None):
        return self._step(input, [(hx, "hx")])[0]
