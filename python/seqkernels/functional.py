"""``seqkernels.functional``: differentiable ops with ``torch.nn.functional``'s names, arguments, defaults and
semantics. Each applies a ``Function`` from ``seqkernels/autograd_functions/``, which calls the op layer
(``seqkernels/ops/``), where the arguments are checked and the work is done. Inputs may be Tensors or numpy
arrays; the result is a Tensor."""
from __future__ import annotations

import numpy as np

from .autograd_functions.activation import Dropout, Gelu, Softmax
from .autograd_functions.attention import ScaledDotProductAttention
from .autograd_functions.conv import Conv1d
from .autograd_functions.elementwise import Elu, LeakyRelu, Relu, Sigmoid, Silu, Softplus, Tanh
from .autograd_functions.embedding import Embedding
from .autograd_functions.linear import Linear
from .autograd_functions.loss import BinaryCrossEntropyWithLogits, CrossEntropy, MseLoss
from .autograd_functions.norm import LayerNorm, Normalize
from .autograd_functions.pad import Pad
from .autograd_functions.pooling import AvgPool1d, MaxPool1d
from .ops.activation import dropout_check_p
from .ops.embedding import one_hot_forward
from .autograd import is_grad_enabled
from .ops import activation as A, elementwise as E, linear as L, loss as Lo
from .tensor import Tensor

_wrap = Tensor._from_op


def _tensor(x, name="input"):
    """A numpy array as a Tensor (without a copy), so every op below returns a Tensor; a Tensor as it is;
    anything else a TypeError naming the argument (as torch's ``argument 'input' must be Tensor``)."""
    if isinstance(x, Tensor):
        return x
    if isinstance(x, np.ndarray):
        return _wrap(x, None, 0)
    raise TypeError(f"argument '{name}' must be a Tensor or numpy array, got {type(x).__name__}")


def _apply(fn, op_forward, *args):
    """``fn.apply(*args)`` (``fn``'s arguments are ``op_forward``'s); when no graph would be recorded (no
    argument requires grad, or grad mode is off), ``op_forward``'s first output straight away: the same
    result without ``Function.apply``'s per-call work."""
    raw = []
    for a in args:
        if isinstance(a, Tensor):
            if a.requires_grad and is_grad_enabled():
                return fn.apply(*args)
            raw.append(a.data)
        else:
            raw.append(a)
    y = op_forward(*raw)[0]
    return _wrap(y if type(y) is np.ndarray else np.asarray(y), None, 0)


def _apply_unary(fn, op_forward, input, *options):
    """``_apply`` for the ops of one tensor argument (the activations), with less per-call work."""
    if isinstance(input, Tensor):
        if input.requires_grad and is_grad_enabled():
            return fn.apply(input, *options)
        x = input.data
    else:
        x = _tensor(input).data  # a numpy array, or the TypeError
    return _wrap(op_forward(x, *options)[0], None, 0)


def _array(x):
    return None if x is None else x.data if isinstance(x, Tensor) else np.asarray(x)


# ---- activations --------------------------------------------------------------------------------------------

def relu(input, inplace: bool = False):
    """``max(x, 0)``"""
    return _apply_unary(Relu, E.relu_forward, input)


def tanh(input):
    """hyperbolic tangent"""
    return _apply_unary(Tanh, E.tanh_forward, input)


def sigmoid(input):
    """``1 / (1 + exp(-x))``, without overflow"""
    return _apply_unary(Sigmoid, E.sigmoid_forward, input)


def silu(input, inplace: bool = False):
    """``x * sigmoid(x)`` (swish)"""
    return _apply_unary(Silu, E.silu_forward, input)


def softplus(input, beta: float = 1.0, threshold: float = 20.0):
    """``log(1 + exp(beta x)) / beta``, linear where ``beta x > threshold``"""
    return _apply_unary(Softplus, E.softplus_forward, input, float(beta), float(threshold))


def leaky_relu(input, negative_slope: float = 0.01, inplace: bool = False):
    """``x`` for x > 0, ``negative_slope * x`` otherwise"""
    return _apply_unary(LeakyRelu, E.leaky_relu_forward, input, float(negative_slope))


def elu(input, alpha: float = 1.0, inplace: bool = False):
    """``x`` for x > 0, ``alpha * (exp(x) - 1)`` otherwise"""
    return _apply_unary(Elu, E.elu_forward, input, float(alpha))


def gelu(input, approximate: str = "none"):
    """GELU, ``x * Phi(x)`` (``approximate='none'``, via erf) or its tanh approximation (``'tanh'``)."""
    return _apply_unary(Gelu, A.gelu_forward, input, approximate)


def softmax(input, dim=None):
    """``exp(x) / sum(exp(x))`` along ``dim`` (max-subtracted; any dim; None: torch's implicit choice)."""
    return _apply(Softmax, A.softmax_forward, _tensor(input), dim, False)


def log_softmax(input, dim=None):
    """``x - logsumexp(x)`` along ``dim`` (any dim)."""
    return _apply(Softmax, A.softmax_forward, _tensor(input), dim, True)


def dropout(input, p: float = 0.5, training: bool = True):
    """Zeroes each element with probability ``p`` and scales the others by ``1 / (1 - p)`` when ``training``
    (otherwise returns ``input`` itself). The mask comes from a seed drawn from ``sk.manual_seed``'s generator,
    so it is reproducible and independent of the thread count; p = 1 gives zeros."""
    p = dropout_check_p(p)
    if not training or p == 0.0:
        return input
    return _apply(Dropout, A.dropout_forward, _tensor(input), p)


# ---- layers -------------------------------------------------------------------------------------------------

def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` over the last dimension (any leading dims), as ``torch.nn.functional.linear``.
    input (*, in_features), weight (out_features, in_features), bias (out_features) or None; float32."""
    return _apply(Linear, L.linear_forward, _tensor(input), weight, bias)


def layer_norm(input, normalized_shape, weight=None, bias=None, eps: float = 1e-5):
    """Normalises over the trailing ``normalized_shape`` dims (mean 0, variance 1, biased variance), then
    ``* weight + bias``, as ``torch.nn.functional.layer_norm``."""
    return LayerNorm.apply(_tensor(input), weight, bias, normalized_shape, eps)


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution over (N, C_in, L) or unbatched (C_in, L) input with weight (C_out, C_in/groups, K):
    ``torch.nn.functional.conv1d`` (cross-correlation; ``padding`` an int, 'valid' or 'same')."""
    return Conv1d.apply(_tensor(input), weight, bias, stride, padding, dilation, groups)


def embedding(input, weight, padding_idx=None, max_norm=None, norm_type=2.0, scale_grad_by_freq=False, sparse=False):
    """Rows of ``weight`` (num_embeddings, dim) for int32/int64 ids ``input`` of any shape:
    ``torch.nn.functional.embedding``. ``padding_idx`` (negative counts from the end) gets no gradient;
    ``max_norm`` renormalises looked-up rows in place first; ``sparse=True`` leaves a ``SparseGrad`` on weight."""
    return Embedding.apply(_tensor(weight, "weight"), _array(input), padding_idx, max_norm, norm_type, bool(scale_grad_by_freq),
                           bool(sparse))


def scaled_dot_product_attention(query, key, value, attn_mask=None, dropout_p=0.0, is_causal=False, scale=None,
                                 enable_gqa=False, *, causal_alignment="top_left"):
    """``torch.nn.functional.scaled_dot_product_attention`` on the fused kernel.

    query (..., Lq, D), key and value (..., Lk, D) with the same leading dims (usually (B, H)), float32.
    attn_mask: bool (True = attend) or float32 (added to the scores), broadcastable to (..., Lq, Lk).
    is_causal: query i attends to keys j <= i (top-left aligned, as torch); not combinable with attn_mask, as in torch.
    causal_alignment="bottom_right" (not in torch's signature; torch spells it attn_mask=causal_lower_right(Lq, Lk)):
    with is_causal, query i attends to keys j <= i + Lk - Lq, the queries being the last Lq positions (a block of
    new queries after cached keys); rows before the first key (Lq > Lk) are fully masked and give 0.
    scale defaults to 1/sqrt(D). dropout_p > 0 drops attention probabilities (pass 0 in evaluation).
    enable_gqa: key and value may have fewer heads (dim -3) than query, a divisor of its count; each serves
    that many consecutive query heads (grouped-query attention; the kernel reads the shared heads in place).
    A row whose keys are all masked gives 0 and zero gradients (as torch's CPU kernel; its math path gives NaN).
    """
    for name, t in (("query", query), ("key", key), ("value", value)):
        if not isinstance(t, (Tensor, np.ndarray)):
            raise TypeError(f"scaled_dot_product_attention: argument '{name}' must be a Tensor, got "
                            f"{type(t).__name__}")
    if not (isinstance(attn_mask, Tensor) and attn_mask.requires_grad and attn_mask.dtype == np.float32):
        attn_mask = _array(attn_mask)  # a float mask that requires grad stays a Tensor: it gets a gradient
    return ScaledDotProductAttention.apply(_tensor(query, "query"), key, value, attn_mask, float(dropout_p),
                                           bool(is_causal), None if scale is None else float(scale),
                                           bool(enable_gqa), causal_alignment)


def normalize(input, p: float = 2.0, dim: int = 1, eps: float = 1e-12, out=None):
    """``x / max(||x||_p, eps)`` along ``dim`` (finite p > 0), as ``torch.nn.functional.normalize``."""
    if out is not None:
        raise TypeError("normalize: argument 'out' is not supported")
    return Normalize.apply(_tensor(input), p, dim, eps)


def one_hot(tensor, num_classes: int = -1):
    """int64 one-hot vectors (*, num_classes) of class indices (``num_classes=-1``: the largest + 1)."""
    return _wrap(one_hot_forward(_array(tensor), num_classes)[0], None, 0)


def pad(input, pad, mode: str = "constant", value=None):
    """Pads the trailing dims, as ``torch.nn.functional.pad``: ``pad`` = (left, right) of the last dim, then the
    one before, ...; mode 'constant' (fill ``value``, default 0), 'reflect', 'replicate' or 'circular'; negative
    amounts crop. Any number of leading dims (torch asks reflect/replicate/circular for batched shapes)."""
    return Pad.apply(_tensor(input), tuple(pad) if isinstance(pad, list) else pad, mode, value)


# ---- pooling ------------------------------------------------------------------------------------------------

def max_pool1d(input, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False, return_indices=False):
    """Max over sliding windows of the last axis (``torch.nn.functional.max_pool1d``); padding never wins."""
    out, indices = MaxPool1d.apply(_tensor(input), kernel_size, stride, padding, dilation, ceil_mode, None)
    return (out, indices) if return_indices else out


def adaptive_max_pool1d(input, output_size, return_indices=False):
    """Max over ``output_size`` windows covering the last axis as torch splits it (window i spans
    [floor(i*L/out), ceil((i+1)*L/out))); ``output_size=1`` is the global max over time."""
    out, indices = MaxPool1d.apply(_tensor(input), None, None, 0, 1, False, output_size)
    return (out, indices) if return_indices else out


def avg_pool1d(input, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over sliding windows of the last axis (``torch.nn.functional.avg_pool1d``)."""
    return AvgPool1d.apply(_tensor(input), kernel_size, stride, padding, ceil_mode, count_include_pad)


# ---- losses -------------------------------------------------------------------------------------------------

def cross_entropy(input, target, weight=None, ignore_index: int = -100, reduction: str = "mean",
                  label_smoothing: float = 0.0):
    """Softmax cross-entropy of logits ``input`` (C), (N, C) or (N, C, d1, ...) against class-index ``target``
    () / (N) / (N, d1, ...), int32 or int64, as ``torch.nn.functional.cross_entropy``: ``weight`` (C) rescales
    classes ('mean' divides by the summed weights of the non-ignored targets), targets equal to
    ``ignore_index`` contribute nothing, ``label_smoothing`` mixes in the uniform distribution. Class
    probabilities as targets are not supported (class indices only). A target outside [0, C) raises
    IndexError; a NaN logit gives a NaN loss."""
    if isinstance(input, Tensor) and input.requires_grad and is_grad_enabled():
        return CrossEntropy.apply(input, target, weight, ignore_index, reduction, label_smoothing)
    # no graph (target and weight never get a gradient): the op layer straight away, as _apply does
    loss = Lo.cross_entropy_forward(input.data if isinstance(input, Tensor) else input,
                                    target.data if isinstance(target, Tensor) else target,
                                    weight.data if isinstance(weight, Tensor) else weight, ignore_index, reduction,
                                    label_smoothing)[0]
    return _wrap(loss, None, 0)


def binary_cross_entropy_with_logits(input, target, weight=None, reduction: str = "mean", pos_weight=None):
    """``-w [pos_weight t log sigmoid(x) + (1 - t) log(1 - sigmoid(x))]``, computed stably from the logits, as
    ``torch.nn.functional.binary_cross_entropy_with_logits``. Gradients flow to ``input`` and ``target``
    (not to ``weight`` / ``pos_weight``)."""
    return _apply(BinaryCrossEntropyWithLogits, Lo.binary_cross_entropy_with_logits_forward, _tensor(input), target,
                  _array(weight), _array(pos_weight), reduction)


def mse_loss(input, target, reduction: str = "mean"):
    """Mean (or summed, or element-wise) squared error, as ``torch.nn.functional.mse_loss`` (shapes broadcast)."""
    return _apply(MseLoss, Lo.mse_loss_forward, _tensor(input), target, reduction)
