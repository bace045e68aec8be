"""The kernels as ``torch.library`` custom ops: ``torch.ops.seqkernels.<name>`` and ``<name>_backward``.

Every op is CPU float32 (ids int32/int64), registered with ``torch.library.custom_op``: a fake (meta) kernel
that gives the exact output shapes and strides (every output is C-contiguous), and an autograd formula whose
backward is its own custom op. What backward needs beyond the inputs (layer norm's mean/rstd, attention's
log-sum-exp, the recurrent layers' gate activations) is returned by the forward op as extra tensor outputs,
never kept as Python state, so ``torch.compile`` and AOT autograd see the whole computation. The public
``seqkernels.torch.functional`` functions return only the first output.

Op bodies are thin: tensors become numpy views (``Tensor.numpy()``, no copy), the array-level functions of
``seqkernels.ops`` do the work, and their arrays come back with ``torch.from_numpy`` (no copy). Other dtypes
raise TypeError (from the op layer); tensors on other devices find no kernel (torch raises
NotImplementedError) — the functional and module front ends fall back to torch's own op instead.
Backward ops take ``*_grad`` flags saying which gradients are wanted; a gradient not wanted comes back as an
empty tensor (shape (0,)).
"""
import math
from typing import List, Optional, Tuple

import numpy as np
import torch
from torch import Tensor

from ..ops import activation as _activation, attention as _attention, conv as _conv, embedding as _embedding
from ..ops import linear as _linear, loss as _loss, norm as _norm, rnn as _rnn

_EMPTY_SHAPE = (0,)
custom_op = torch.library.custom_op


def _np(t: Optional[Tensor]):
    """A numpy view of a CPU tensor (no copy), None for None."""
    return None if t is None else t.detach().numpy()


def _t(a, *inputs) -> Tensor:
    """A kernel's array as a C-contiguous tensor sharing its memory; copied only where it would alias an input
    (a custom op's outputs may not alias its inputs)."""
    if not a.flags.c_contiguous or any(x is not None and np.may_share_memory(a, x) for x in inputs):
        a = a.copy(order="C")
    return torch.from_numpy(a)


def _empty() -> Tensor:
    return torch.empty(_EMPTY_SHAPE)


def _maybe(a) -> Tensor:
    return _empty() if a is None else _t(a)


# ---- linear ---------------------------------------------------------------------------------------------------
@custom_op("seqkernels::linear", mutates_args=(), device_types="cpu")
def linear(input: Tensor, weight: Tensor, bias: Optional[Tensor]) -> Tensor:
    """y = input @ weight.T + bias; input (*, in), weight (out, in), bias (out) or None."""
    x, w = _np(input), _np(weight)
    (y,) = _linear.linear_forward(x, w, _np(bias))
    return _t(y, x, w)


@linear.register_fake
def _(input, weight, bias):
    return input.new_empty(tuple(input.shape[:-1]) + (weight.shape[0],))


@custom_op("seqkernels::linear_backward", mutates_args=(), device_types="cpu")
def linear_backward(grad: Tensor, input: Tensor, weight: Tensor, input_grad: bool, weight_grad: bool,
                    bias_grad: bool) -> Tuple[Tensor, Tensor, Tensor]:
    """(d input, d weight, d bias) of linear."""
    dx, dw, db = _linear.linear_backward(_np(grad), _np(input), _np(weight), (input_grad, weight_grad, bias_grad))
    return _maybe(dx), _maybe(dw), _maybe(db)


@linear_backward.register_fake
def _(grad, input, weight, input_grad, weight_grad, bias_grad):
    return (input.new_empty(input.shape if input_grad else _EMPTY_SHAPE),
            weight.new_empty(weight.shape if weight_grad else _EMPTY_SHAPE),
            weight.new_empty((weight.shape[0],) if bias_grad else _EMPTY_SHAPE))


def _linear_setup(ctx, inputs, output):
    input, weight, bias = inputs
    ctx.save_for_backward(input, weight)
    ctx.has_bias = bias is not None


def _linear_grad(ctx, grad):
    input, weight = ctx.saved_tensors
    nx, nw, nb = ctx.needs_input_grad
    nb = nb and ctx.has_bias
    dx, dw, db = torch.ops.seqkernels.linear_backward(grad, input, weight, nx, nw, nb)
    return (dx if nx else None), (dw if nw else None), (db if nb else None)


linear.register_autograd(_linear_grad, setup_context=_linear_setup)


# ---- conv1d ---------------------------------------------------------------------------------------------------
def _conv1d_length(length, kernel_size, stride, padding, dilation):
    return (length + padding[0] + padding[1] - dilation * (kernel_size - 1) - 1) // stride + 1


@custom_op("seqkernels::conv1d", mutates_args=(), device_types="cpu")
def conv1d(input: Tensor, weight: Tensor, bias: Optional[Tensor], stride: int, padding: List[int], dilation: int,
           groups: int) -> Tensor:
    """y (N, C_out, L_out) = conv1d(input (N, C_in, L), weight (C_out, C_in/groups, K)) + bias;
    padding = [left, right] zeros."""
    x, w = _np(input), _np(weight)
    (y,) = _conv.conv1d_forward(x, w, _np(bias), stride, tuple(padding), dilation, groups)
    return _t(y, x, w)


@conv1d.register_fake
def _(input, weight, bias, stride, padding, dilation, groups):
    return input.new_empty((input.shape[0], weight.shape[0],
                            _conv1d_length(input.shape[2], weight.shape[2], stride, padding, dilation)))


@custom_op("seqkernels::conv1d_backward", mutates_args=(), device_types="cpu")
def conv1d_backward(grad: Tensor, input: Tensor, weight: Tensor, stride: int, padding: List[int], dilation: int,
                    groups: int, input_grad: bool, weight_grad: bool, bias_grad: bool) -> Tuple[Tensor, Tensor, Tensor]:
    """(d input, d weight, d bias) of conv1d."""
    dx, dw, db = _conv.conv1d_backward(_np(grad), _np(input), _np(weight), stride, tuple(padding), dilation, groups,
                                       (input_grad, weight_grad, bias_grad))
    return _maybe(dx), _maybe(dw), _maybe(db)


@conv1d_backward.register_fake
def _(grad, input, weight, stride, padding, dilation, groups, input_grad, weight_grad, bias_grad):
    return (input.new_empty(input.shape if input_grad else _EMPTY_SHAPE),
            weight.new_empty(weight.shape if weight_grad else _EMPTY_SHAPE),
            weight.new_empty((weight.shape[0],) if bias_grad else _EMPTY_SHAPE))


def _conv1d_setup(ctx, inputs, output):
    input, weight, bias, stride, padding, dilation, groups = inputs
    ctx.save_for_backward(input, weight)
    ctx.options = (stride, list(padding), dilation, groups)
    ctx.has_bias = bias is not None


def _conv1d_grad(ctx, grad):
    input, weight = ctx.saved_tensors
    nx, nw, nb = ctx.needs_input_grad[:3]
    nb = nb and ctx.has_bias
    dx, dw, db = torch.ops.seqkernels.conv1d_backward(grad, input, weight, *ctx.options, nx, nw, nb)
    return (dx if nx else None), (dw if nw else None), (db if nb else None), None, None, None, None


conv1d.register_autograd(_conv1d_grad, setup_context=_conv1d_setup)


# ---- embedding ------------------------------------------------------------------------------------------------
@custom_op("seqkernels::embedding", mutates_args=(), device_types="cpu")
def embedding(weight: Tensor, indices: Tensor, padding_idx: int, scale_grad_by_freq: bool) -> Tensor:
    """weight[indices]: weight (num_embeddings, dim), indices int32/int64 of any shape. padding_idx in
    [0, num_embeddings) gets no gradient, -1 for none (as aten::embedding)."""
    w = _np(weight)
    (y,) = _embedding.embedding_forward(w, _np(indices), None if padding_idx < 0 else padding_idx)
    return _t(y, w)


@embedding.register_fake
def _(weight, indices, padding_idx, scale_grad_by_freq):
    return weight.new_empty(tuple(indices.shape) + (weight.shape[1],))


@custom_op("seqkernels::embedding_backward", mutates_args=(), device_types="cpu")
def embedding_backward(grad: Tensor, indices: Tensor, num_weights: int, padding_idx: int,
                       scale_grad_by_freq: bool) -> Tensor:
    """The dense (num_weights, dim) gradient of embedding's table."""
    (dw,) = _embedding.embedding_backward(_np(grad), _np(indices), num_weights,
                                          None if padding_idx < 0 else padding_idx, scale_grad_by_freq)
    return _t(dw)


@embedding_backward.register_fake
def _(grad, indices, num_weights, padding_idx, scale_grad_by_freq):
    return grad.new_empty((num_weights, grad.shape[-1]))


def _embedding_setup(ctx, inputs, output):
    weight, indices, padding_idx, scale_grad_by_freq = inputs
    ctx.save_for_backward(indices)
    ctx.options = (weight.shape[0], padding_idx, scale_grad_by_freq)


def _embedding_grad(ctx, grad):
    (indices,) = ctx.saved_tensors
    dw = torch.ops.seqkernels.embedding_backward(grad, indices, *ctx.options) if ctx.needs_input_grad[0] else None
    return dw, None, None, None


embedding.register_autograd(_embedding_grad, setup_context=_embedding_setup)


# ---- layer_norm -----------------------------------------------------------------------------------------------
@custom_op("seqkernels::layer_norm", mutates_args=(), device_types="cpu")
def layer_norm(input: Tensor, normalized_shape: List[int], weight: Optional[Tensor], bias: Optional[Tensor],
               eps: float) -> Tuple[Tensor, Tensor, Tensor]:
    """(y, mean, rstd): y normalises input over its trailing normalized_shape dims, * weight + bias;
    mean and rstd (rows,) with rows = input.numel() / prod(normalized_shape)."""
    x = _np(input)
    y, mean, rstd = _norm.layer_norm_forward(x, tuple(normalized_shape), _np(weight), _np(bias), eps)
    return _t(y, x), _t(mean), _t(rstd)


def _rows(shape, trailing: int):
    return math.prod(shape[:len(shape) - trailing])


@layer_norm.register_fake
def _(input, normalized_shape, weight, bias, eps):
    rows = _rows(input.shape, len(normalized_shape))
    return input.new_empty(input.shape), input.new_empty((rows,)), input.new_empty((rows,))


@custom_op("seqkernels::layer_norm_backward", mutates_args=(), device_types="cpu")
def layer_norm_backward(grad: Tensor, input: Tensor, normalized_shape: List[int], weight: Optional[Tensor],
                        mean: Tensor, rstd: Tensor, weight_grad: bool, bias_grad: bool
                        ) -> Tuple[Tensor, Tensor, Tensor]:
    """(d input, d weight, d bias) of layer_norm, from its mean and rstd."""
    dx, dw, db = _norm.layer_norm_backward(np.ascontiguousarray(_np(grad)), _np(input), _np(mean), _np(rstd),
                                           tuple(normalized_shape), _np(weight), (True, weight_grad, bias_grad))
    return _t(dx), _maybe(dw), _maybe(db)


@layer_norm_backward.register_fake
def _(grad, input, normalized_shape, weight, mean, rstd, weight_grad, bias_grad):
    shape = tuple(normalized_shape)
    return (input.new_empty(input.shape), input.new_empty(shape if weight_grad else _EMPTY_SHAPE),
            input.new_empty(shape if bias_grad else _EMPTY_SHAPE))


def _layer_norm_setup(ctx, inputs, output):
    input, normalized_shape, weight, bias, eps = inputs
    _, mean, rstd = output
    ctx.save_for_backward(input, weight, mean, rstd)
    ctx.normalized_shape = list(normalized_shape)
    ctx.affine = (weight is not None, bias is not None)


def _layer_norm_grad(ctx, grad, _grad_mean, _grad_rstd):
    input, weight, mean, rstd = ctx.saved_tensors
    nx, _, nw, nb = ctx.needs_input_grad[:4]
    nw, nb = nw and ctx.affine[0], nb and ctx.affine[1]
    dx, dw, db = torch.ops.seqkernels.layer_norm_backward(grad, input, ctx.normalized_shape, weight, mean, rstd,
                                                          nw, nb)
    return (dx if nx else None), None, (dw if nw else None), (db if nb else None), None


layer_norm.register_autograd(_layer_norm_grad, setup_context=_layer_norm_setup)


# ---- gelu -----------------------------------------------------------------------------------------------------
@custom_op("seqkernels::gelu", mutates_args=(), device_types="cpu")
def gelu(input: Tensor, approximate: str) -> Tensor:
    """GELU, x Phi(x) (approximate='none') or its tanh approximation ('tanh')."""
    x = _np(input)
    return _t(_activation.gelu_forward(x, approximate)[0], x)


@gelu.register_fake
def _(input, approximate):
    return input.new_empty(input.shape)


@custom_op("seqkernels::gelu_backward", mutates_args=(), device_types="cpu")
def gelu_backward(grad: Tensor, input: Tensor, approximate: str) -> Tensor:
    """d input of gelu."""
    g, x = _np(grad), _np(input)
    return _t(_activation.gelu_backward(g, x, approximate)[0], g, x)


@gelu_backward.register_fake
def _(grad, input, approximate):
    return input.new_empty(input.shape)


def _gelu_setup(ctx, inputs, output):
    ctx.save_for_backward(inputs[0])
    ctx.approximate = inputs[1]


def _gelu_grad(ctx, grad):
    (input,) = ctx.saved_tensors
    return torch.ops.seqkernels.gelu_backward(grad, input, ctx.approximate), None


gelu.register_autograd(_gelu_grad, setup_context=_gelu_setup)


# ---- cross_entropy --------------------------------------------------------------------------------------------
_REDUCTIONS = ("mean", "sum", "none")


@custom_op("seqkernels::cross_entropy", mutates_args=(), device_types="cpu")
def cross_entropy(input: Tensor, target: Tensor, weight: Optional[Tensor], reduction: str, ignore_index: int,
                  label_smoothing: float) -> Tuple[Tensor, Tensor, Tensor]:
    """(loss, lse, weight_sum): softmax cross-entropy of logits (C) / (N, C) / (N, C, d...) against class ids;
    loss is () for 'mean' and 'sum', target's shape for 'none'; lse (rows,) the log-sum-exp of each row;
    weight_sum () the summed class weights of the targets not ignored ('mean' divides by it)."""
    x = _np(input)
    loss, lse, weight_sum = _loss.cross_entropy_forward(x, _np(target), _np(weight), ignore_index, reduction,
                                                        label_smoothing)
    return _t(loss, x), _t(lse), _t(np.asarray(weight_sum))


@cross_entropy.register_fake
def _(input, target, weight, reduction, ignore_index, label_smoothing):
    rows = max(target.numel(), 1) if input.dim() > 1 else 1
    loss_shape = tuple(target.shape) if reduction == "none" else ()
    return input.new_empty(loss_shape), input.new_empty((rows,)), input.new_empty((), dtype=torch.float64)


@custom_op("seqkernels::cross_entropy_backward", mutates_args=(), device_types="cpu")
def cross_entropy_backward(grad: Tensor, input: Tensor, target: Tensor, weight: Optional[Tensor], lse: Tensor,
                           weight_sum: Tensor, reduction: str, ignore_index: int, label_smoothing: float) -> Tensor:
    """d input of cross_entropy (input's shape), from its lse and weight_sum."""
    (dx,) = _loss.cross_entropy_backward(_np(grad), _np(input), _np(target), _np(lse), _np(weight_sum), _np(weight),
                                         ignore_index, reduction, label_smoothing)
    return _t(dx)


@cross_entropy_backward.register_fake
def _(grad, input, target, weight, lse, weight_sum, reduction, ignore_index, label_smoothing):
    return input.new_empty(input.shape)


def _cross_entropy_setup(ctx, inputs, output):
    input, target, weight, reduction, ignore_index, label_smoothing = inputs
    _, lse, weight_sum = output
    ctx.save_for_backward(input, target, weight, lse, weight_sum)
    ctx.options = (reduction, ignore_index, label_smoothing)


def _cross_entropy_grad(ctx, grad, _grad_lse, _grad_weight_sum):
    input, target, weight, lse, weight_sum = ctx.saved_tensors
    dx = None
    if ctx.needs_input_grad[0]:
        dx = torch.ops.seqkernels.cross_entropy_backward(grad, input, target, weight, lse, weight_sum, *ctx.options)
    return dx, None, None, None, None, None


cross_entropy.register_autograd(_cross_entropy_grad, setup_context=_cross_entropy_setup)


# ---- scaled_dot_product_attention -----------------------------------------------------------------------------
def _lse_4d(query: Tensor, lse: np.ndarray) -> np.ndarray:
    """The kernel's (B, H, Lq) log-sum-exp of a (..., H, Lq, D) query (the op returns it as query.shape[:-1])."""
    return lse.reshape((-1,) + tuple(query.shape[-3:-1]))


def _seed(seed: Optional[Tensor]):
    return None if seed is None else int(seed.item())


@custom_op("seqkernels::scaled_dot_product_attention", mutates_args=(), device_types="cpu")
def scaled_dot_product_attention(query: Tensor, key: Tensor, value: Tensor, attn_mask: Optional[Tensor],
                                 dropout_p: float, is_causal: bool, scale: Optional[float], enable_gqa: bool,
                                 seed: Optional[Tensor]) -> Tuple[Tensor, Tensor, Tensor]:
    """(out, lse, seed): softmax(q kᵀ · scale + mask) v on the fused kernel; query (..., Lq, D), key/value (..., Lk, D);
    attn_mask bool (True = attend) or float (added), broadcastable to (..., Lq, Lk); lse (..., Lq) the rows'
    log-sum-exp; seed (0-d int64) draws the dropout mask when dropout_p > 0 (None: one from sk.manual_seed's
    generator); the seed used comes back as the third output (0 without dropout), for backward."""
    q, k, v = _np(query), _np(key), _np(value)
    out, lse, used_seed = _attention.sdpa_forward(q, k, v, _np(attn_mask), dropout_p, is_causal, scale, enable_gqa,
                                                  seed=_seed(seed))
    return _t(out, q, k, v), _t(lse.reshape(query.shape[:-1])), torch.from_numpy(used_seed)


@scaled_dot_product_attention.register_fake
def _(query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa, seed):
    return query.new_empty(query.shape), query.new_empty(query.shape[:-1]), query.new_empty((), dtype=torch.int64)


@custom_op("seqkernels::scaled_dot_product_attention_backward", mutates_args=(), device_types="cpu")
def scaled_dot_product_attention_backward(grad: Tensor, query: Tensor, key: Tensor, value: Tensor, out: Tensor,
                                          lse: Tensor, seed: Tensor, attn_mask: Optional[Tensor], dropout_p: float,
                                          is_causal: bool, scale: Optional[float], enable_gqa: bool
                                          ) -> Tuple[Tensor, Tensor, Tensor]:
    """(d query, d key, d value) of scaled_dot_product_attention, recomputed from its out and lse."""
    dq, dk, dv = _attention.sdpa_backward(_np(grad), _np(query), _np(key), _np(value), _np(out),
                                          _lse_4d(query, _np(lse)), _np(seed),
                                          _np(attn_mask), dropout_p, is_causal, scale, enable_gqa)
    return _t(dq), _t(dk), _t(dv)


@scaled_dot_product_attention_backward.register_fake
def _(grad, query, key, value, out, lse, seed, attn_mask, dropout_p, is_causal, scale, enable_gqa):
    return query.new_empty(query.shape), key.new_empty(key.shape), value.new_empty(value.shape)


def _sdpa_setup(ctx, inputs, output):
    query, key, value, attn_mask, dropout_p, is_causal, scale, enable_gqa, seed = inputs
    out, lse, used_seed = output
    ctx.save_for_backward(query, key, value, out, lse, used_seed, attn_mask)
    ctx.options = (dropout_p, is_causal, scale, enable_gqa)


def _sdpa_grad(ctx, grad, _grad_lse, _grad_seed):
    query, key, value, out, lse, seed, attn_mask = ctx.saved_tensors
    dropout_p, is_causal, scale, enable_gqa = ctx.options
    dq, dk, dv = torch.ops.seqkernels.scaled_dot_product_attention_backward(
        grad, query, key, value, out, lse, seed, attn_mask, dropout_p, is_causal, scale, enable_gqa)
    needs = ctx.needs_input_grad
    return (dq if needs[0] else None), (dk if needs[1] else None), (dv if needs[2] else None), *([None] * 6)


scaled_dot_product_attention.register_autograd(_sdpa_grad, setup_context=_sdpa_setup)


# ---- recurrent layers (RNN_TANH, RNN_RELU, LSTM, GRU), all layers and directions in one op ------------------------
_SAVED_UNITS = {}


def _saved_units(mode: str) -> int:
    """Floats the kernel saves per (time step, sequence) for backward, per hidden unit (a probe at H = 1)."""
    if mode not in _SAVED_UNITS:
        one = np.zeros((1, 1, 1), np.float32)
        w = np.zeros((_rnn.GATES[mode], 1), np.float32)
        _SAVED_UNITS[mode] = _rnn.rnn_forward(one, None, None, [w, w, None, None], mode)[3].shape[1]
    return _SAVED_UNITS[mode]


def _rnn_layout(weights, num_layers: int, bidirectional: bool):
    directions = 2 if bidirectional else 1
    per = len(weights) // (num_layers * directions)
    return directions, per, weights[1].shape[1]


def _layer_weights(weights, per: int, layer: int, directions: int):
    """One layer's weights as the op layer takes them: (w_ih, w_hh, b_ih, b_hh) per direction, None biases."""
    out = []
    for i in range(layer * directions, (layer + 1) * directions):
        w = weights[i * per:(i + 1) * per]
        out += [w[0], w[1], w[2], w[3]] if per == 4 else [w[0], w[1], None, None]
    return out


@custom_op("seqkernels::rnn", mutates_args=(), device_types="cpu")
def rnn(input: Tensor, hx: Optional[Tensor], cx: Optional[Tensor], weights: List[Tensor], lengths: Optional[Tensor],
        mode: str, num_layers: int, bidirectional: bool, batch_first: bool, train: bool
        ) -> Tuple[Tensor, Tensor, Tensor, List[Tensor]]:
    """(output, h_n, c_n, saved) of a whole recurrent layer stack, as torch.nn.RNN / LSTM / GRU (no dropout).

    mode: 'RNN_TANH', 'RNN_RELU', 'LSTM' or 'GRU'. input (T, B, I) or (B, T, I) with batch_first; hx / cx
    (layers * directions, B, H) or None (zeros; cx only for LSTM); weights in torch's ``_flat_weights`` order
    (w_ih, w_hh[, b_ih, b_hh] per layer and direction); lengths (B,) int64 valid steps per sequence or None
    (outputs past a sequence's end are 0, h_n / c_n its state at its last step, as a packed sequence).
    output (T, B, D*H) or (B, T, D*H); c_n empty unless LSTM. saved (empty unless train): the output of every
    layer but the last, then the kernel's saved activations of every layer and direction, for rnn_backward.
    """
    x, h0, c0 = _np(input), _np(hx), _np(cx)
    w = [_np(t) for t in weights]
    lens = None if lengths is None else np.ascontiguousarray(_np(lengths), dtype=np.int64)
    directions, per, H = _rnn_layout(w, num_layers, bidirectional)
    B = x.shape[0] if batch_first else x.shape[1]
    lstm = mode == "LSTM"
    h_n = np.empty((num_layers * directions, B, H), np.float32)
    c_n = np.empty((num_layers * directions, B, H), np.float32) if lstm else None
    layer_outputs, states = [], []
    layer_in = x
    for layer in range(num_layers):
        part = slice(layer * directions, (layer + 1) * directions)
        y, h_n[part], c, *saved = _rnn.rnn_forward(layer_in, None if h0 is None else h0[part],
                                                   None if c0 is None else c0[part],
                                                   _layer_weights(w, per, layer, directions), mode, lens,
                                                   batch_first, train)
        if lstm:
            c_n[part] = c
        if train:
            for s in saved:
                if lens is not None:  # only the real steps' rows are written (packed first): keep no garbage
                    s[int(lens.sum()):] = 0
                states.append(torch.from_numpy(s))
            if layer < num_layers - 1:
                layer_outputs.append(torch.from_numpy(y))
        layer_in = y
    return torch.from_numpy(layer_in), torch.from_numpy(h_n), _maybe(c_n), layer_outputs + states


@rnn.register_fake
def _(input, hx, cx, weights, lengths, mode, num_layers, bidirectional, batch_first, train):
    directions, per, H = _rnn_layout(weights, num_layers, bidirectional)
    T, B = (input.shape[1], input.shape[0]) if batch_first else (input.shape[0], input.shape[1])
    out_shape = tuple(input.shape[:2]) + (directions * H,)
    state = (num_layers * directions, B, H)
    saved = []
    if train:
        saved = [input.new_empty(out_shape) for _ in range(num_layers - 1)]
        saved += [input.new_empty((T * B, _saved_units(mode) * H)) for _ in range(num_layers * directions)]
    return (input.new_empty(out_shape), input.new_empty(state),
            input.new_empty(state if mode == "LSTM" else _EMPTY_SHAPE), saved)


@custom_op("seqkernels::rnn_backward", mutates_args=(), device_types="cpu")
def rnn_backward(grad_output: Tensor, grad_h_n: Tensor, grad_c_n: Tensor, input: Tensor, weights: List[Tensor],
                 saved: List[Tensor], lengths: Optional[Tensor], mode: str, num_layers: int, bidirectional: bool,
                 batch_first: bool, input_grad: bool) -> Tuple[Tensor, Tensor, Tensor, List[Tensor]]:
    """(d input, d hx, d cx, d weights) of rnn, from its saved tensors; grad_c_n is empty unless LSTM."""
    x = _np(input)
    w = [_np(t) for t in weights]
    lens = None if lengths is None else np.ascontiguousarray(_np(lengths), dtype=np.int64)
    directions, per, H = _rnn_layout(w, num_layers, bidirectional)
    layer_outputs = [_np(t) for t in saved[:num_layers - 1]]
    states = [_np(t) for t in saved[num_layers - 1:]]
    lstm = mode == "LSTM"
    dh_n = np.ascontiguousarray(_np(grad_h_n), dtype=np.float32)
    dc_n = np.ascontiguousarray(_np(grad_c_n), dtype=np.float32) if lstm else None
    dy = np.ascontiguousarray(_np(grad_output), dtype=np.float32)
    dh0 = np.empty_like(dh_n)
    dc0 = np.empty_like(dh_n) if lstm else None
    dw = [None] * len(w)
    for layer in reversed(range(num_layers)):
        part = slice(layer * directions, (layer + 1) * directions)
        dx, dh0[part], dc, *grads = _rnn.rnn_backward(
            dy, dh_n[part], None if dc_n is None else dc_n[part], x if layer == 0 else layer_outputs[layer - 1],
            _layer_weights(w, per, layer, directions), states[part], mode, lens, batch_first,
            (layer > 0 or input_grad, True, lstm))
        if lstm:
            dc0[part] = dc
        for d in range(directions):
            i = layer * directions + d
            dw[i * per:(i + 1) * per] = grads[4 * d:4 * d + per]
        dy = dx
    return (_maybe(dy), torch.from_numpy(dh0), _maybe(dc0), [torch.from_numpy(g) for g in dw])


@rnn_backward.register_fake
def _(grad_output, grad_h_n, grad_c_n, input, weights, saved, lengths, mode, num_layers, bidirectional,
      batch_first, input_grad):
    return (input.new_empty(input.shape if input_grad else _EMPTY_SHAPE), grad_h_n.new_empty(grad_h_n.shape),
            grad_h_n.new_empty(grad_h_n.shape if mode == "LSTM" else _EMPTY_SHAPE),
            [t.new_empty(t.shape) for t in weights])


def _rnn_setup(ctx, inputs, output):
    input, hx, cx, weights, lengths, mode, num_layers, bidirectional, batch_first, train = inputs
    _, h_n, c_n, saved = output
    if not train:
        ctx.mark_non_differentiable(*output[:3])
    ctx.save_for_backward(input, lengths, h_n, c_n, *weights, *saved)
    ctx.options = (mode, num_layers, bidirectional, batch_first)
    ctx.counts = (len(weights), train, hx is not None, cx is not None)


def _rnn_grad(ctx, grad_output, grad_h_n, grad_c_n, _grad_saved):
    input, lengths, h_n, c_n, *rest = ctx.saved_tensors
    n_weights, train, has_hx, has_cx = ctx.counts
    if not train:
        raise RuntimeError("seqkernels.rnn: backward needs the forward run with train=True")
    weights, saved = rest[:n_weights], rest[n_weights:]
    mode = ctx.options[0]
    if grad_h_n is None:
        grad_h_n = torch.zeros_like(h_n)
    if mode == "LSTM" and grad_c_n is None:
        grad_c_n = torch.zeros_like(c_n)
    elif mode != "LSTM":
        grad_c_n = c_n  # empty
    if grad_output is None:
        grad_output = torch.zeros(tuple(input.shape[:2]) + (h_n.shape[-1] * (2 if ctx.options[2] else 1),))
    dx, dh0, dc0, dw = torch.ops.seqkernels.rnn_backward(grad_output, grad_h_n, grad_c_n, input, weights, saved,
                                                        lengths, *ctx.options, ctx.needs_input_grad[0])
    return ((dx if ctx.needs_input_grad[0] else None), (dh0 if has_hx else None),
            (dc0 if has_cx and mode == "LSTM" else None), dw, None, None, None, None, None, None)


rnn.register_autograd(_rnn_grad, setup_context=_rnn_setup)
