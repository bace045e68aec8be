"""Recurrent layers (RNN tanh/relu, LSTM, GRU) as one differentiable op per layer over the ``_C`` kernels.

``RecurrentLayer`` runs one layer in one or both directions over a whole sequence (``_C.rnn_forward`` per
direction, the reverse direction writing the second half of the output in place) and backpropagates
through time with ``_C.rnn_backward`` (the two directions' input gradients accumulate in place).
"""
from __future__ import annotations

import numpy as np

from .. import _C
from ..autograd import Function, is_grad_enabled

MODES = ("RNN_TANH", "RNN_RELU", "LSTM", "GRU")
GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


class RecurrentLayer(Function):
    """``apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh[, w_ih_reverse, ...], mode=, lengths=, batch_first=)``.

    x: (T, B, I) or (B, T, I); h0 / c0: (D, B, H) or None (zeros; c0 only for LSTM); four weights per
    direction (biases None when the layer has none); lengths: (B,) int64 numpy array or None.
    Returns (output (T, B, D*H) or (B, T, D*H), h_n (D, B, H)) and, for LSTM, c_n (D, B, H) too.
    """

    @staticmethod
    def forward(ctx, x, h0, c0, *weights, mode, lengths, batch_first):
        directions = len(weights) // 4
        H = weights[1].shape[1]
        B = x.shape[0] if batch_first else x.shape[1]
        lstm = mode == "LSTM"
        training = is_grad_enabled() and any(ctx.needs_input_grad)
        y = np.empty(x.shape[:2] + (directions * H,), np.float32)
        h_n = np.empty((directions, B, H), np.float32)
        c_n = np.empty((directions, B, H), np.float32) if lstm else None
        saved = []
        for d in range(directions):
            w_ih, w_hh, b_ih, b_hh = weights[4 * d:4 * d + 4]
            _, h_n[d], c, s = _C.rnn_forward(mode, x, w_ih, w_hh, b_ih, b_hh, None if h0 is None else h0[d],
                                             None if c0 is None else c0[d], lengths, batch_first=batch_first,
                                             reverse=d == 1, training=training, out=y, out_column=d * H)
            if lstm:
                c_n[d] = c
            saved.append(s)
        if training:
            ctx.x, ctx.weights, ctx.saved, ctx.mode = x, weights, saved, mode
            ctx.lengths, ctx.batch_first, ctx.has_c0 = lengths, batch_first, c0 is not None
        return (y, h_n, c_n) if lstm else (y, h_n)

    @staticmethod
    def backward(ctx, dy, dh_n, dc_n=None):
        weights, needs = ctx.weights, ctx.needs_input_grad
        directions = len(weights) // 4
        H = weights[1].shape[1]
        dy = np.asarray(dy, np.float32)
        dh0 = np.empty_like(np.asarray(dh_n, np.float32))
        dc0 = np.empty_like(dh0) if dc_n is not None else None
        weight_grads = [None] * len(weights)
        dx = None
        for d in reversed(range(directions)):
            w_ih, w_hh, b_ih, _ = weights[4 * d:4 * d + 4]
            g = _C.rnn_backward(ctx.mode, ctx.x, w_ih, w_hh, ctx.saved[d], dy, dy_column=d * H,
                                dh_n=np.asarray(dh_n[d], np.float32),
                                dc_n=None if dc_n is None else np.asarray(dc_n[d], np.float32),
                                lengths=ctx.lengths, batch_first=ctx.batch_first, reverse=d == 1,
                                bias=b_ih is not None, need_dx=needs[0], dx_accumulate=dx)
            dx = g[0]
            dh0[d] = g[1]
            if dc0 is not None:
                dc0[d] = g[2]
            weight_grads[4 * d:4 * d + 4] = g[3:7]
        return (dx, dh0 if needs[1] else None, dc0 if needs[2] else None, *weight_grads)
