"""Recurrent layers (RNN tanh/relu, LSTM, GRU): one layer in one or both directions over a whole sequence
(``_C.rnn_forward`` per direction, the reverse direction writing the second half of the output in place) and
backpropagation through time (``_C.rnn_backward``; the two directions' input gradients accumulate in place)."""
from __future__ import annotations

import numpy as np

from .. import _C

MODES = ("RNN_TANH", "RNN_RELU", "LSTM", "GRU")
GATES = {"RNN_TANH": 1, "RNN_RELU": 1, "LSTM": 4, "GRU": 3}


def rnn_forward(x, h0, c0, weights, mode: str, lengths=None, batch_first: bool = False, training: bool = True):
    """x (T, B, I) or (B, T, I); h0 / c0 (D, B, H) or None (zeros; c0 only for LSTM); weights: four per
    direction (w_ih, w_hh, b_ih, b_hh; biases None when the layer has none); lengths (B,) int64 or None.
    -> (y (T, B, D*H) or (B, T, D*H), h_n (D, B, H), c_n (D, B, H) or None, *saved); saved: one array per
    direction (the activations backward needs; None unless ``training``)."""
    directions = len(weights) // 4
    H = weights[1].shape[1]
    B = x.shape[0] if batch_first else x.shape[1]
    lstm = mode == "LSTM"
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
    return (y, h_n, c_n, *saved)


def rnn_backward(dy, dh_n, dc_n, x, weights, saved, mode: str, lengths=None, batch_first: bool = False,
                 needs=(True, True, True)):
    """dy like y, dh_n / dc_n like h_n / c_n (dc_n None unless LSTM); saved: forward's per-direction arrays.
    needs: (x, h0, c0); the weights' gradients are always computed. -> (dx, dh0, dc0, *weight gradients)
    (bias gradients None for a layer without biases)."""
    directions = len(weights) // 4
    H = weights[1].shape[1]
    dy = np.asarray(dy, np.float32)
    dh0 = np.empty_like(np.asarray(dh_n, np.float32))
    dc0 = np.empty_like(dh0) if dc_n is not None else None
    weight_grads = [None] * len(weights)
    dx = None
    for d in reversed(range(directions)):
        w_ih, w_hh, b_ih, _ = weights[4 * d:4 * d + 4]
        g = _C.rnn_backward(mode, x, w_ih, w_hh, saved[d], dy, dy_column=d * H,
                            dh_n=np.asarray(dh_n[d], np.float32),
                            dc_n=None if dc_n is None else np.asarray(dc_n[d], np.float32),
                            lengths=lengths, batch_first=batch_first, reverse=d == 1,
                            bias=b_ih is not None, need_dx=needs[0], dx_accumulate=dx)
        dx = g[0]
        dh0[d] = g[1]
        if dc0 is not None:
            dc0[d] = g[2]
        weight_grads[4 * d:4 * d + 4] = g[3:7]
    return (dx, dh0 if needs[1] else None, dc0 if needs[2] else None, *weight_grads)
