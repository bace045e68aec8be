"""Function over ``ops/rnn.py``."""
from __future__ import annotations

from ..autograd import Function, is_grad_enabled
from ..ops import rnn as R


class RecurrentLayer(Function):
    """``apply(x, h0, c0, w_ih, w_hh, b_ih, b_hh[, w_ih_reverse, ...], mode=, lengths=, batch_first=)``:
    one layer, one or two directions (see ``ops.rnn.rnn_forward``). Returns (output, h_n) and, for LSTM, c_n."""

    @staticmethod
    def forward(ctx, x, h0, c0, *weights, mode, lengths, batch_first):
        training = is_grad_enabled() and any(ctx.needs_input_grad)
        y, h_n, c_n, *saved = R.rnn_forward(x, h0, c0, weights, mode, lengths, batch_first, training)
        if training:
            ctx.x, ctx.weights, ctx.saved = x, weights, saved
            ctx.options = (mode, lengths, batch_first)
        return (y, h_n, c_n) if mode == "LSTM" else (y, h_n)

    @staticmethod
    def backward(ctx, dy, dh_n, dc_n=None):
        return R.rnn_backward(dy, dh_n, dc_n, ctx.x, ctx.weights, ctx.saved, *ctx.options,
                              needs=ctx.needs_input_grad[:3])
