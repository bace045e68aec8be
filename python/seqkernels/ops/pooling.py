"""1-D pooling over the last axis of (N, C, L) or (C, L) input, with ``torch.nn.functional``'s semantics:
max_pool1d, avg_pool1d and adaptive_max_pool1d (global max over time with output_size=1).

Vectorised numpy (windows as strided views, gradients scattered with one ``bincount``): for text CNNs pooling
costs a few percent of the convolution.
"""
from __future__ import annotations

import math

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ._checks import single


def _scatter_to_input(grad: np.ndarray, index: np.ndarray, length: int) -> np.ndarray:
    """dx[..., i] = sum of grad[..., t] over the outputs t whose index[..., t] is i (last axis)."""
    lead = grad.shape[:-1]
    rows = int(np.prod(lead))
    flat = (np.arange(rows).reshape(lead + (1,)) * length + index).ravel()
    dx = np.bincount(flat, weights=grad.ravel(), minlength=rows * length)
    return dx.astype(grad.dtype, copy=False).reshape(lead + (length,))


def _check_input(x, op: str):
    if not isinstance(x, np.ndarray):
        raise TypeError(f"{op}: argument 'input' must be a Tensor or numpy array, got {type(x).__name__}")
    if x.dtype.kind != "f":
        raise TypeError(f"{op}: argument 'input' must be a floating-point array, got {x.dtype}")
    if x.ndim not in (2, 3):
        raise ValueError(f"{op}: expected 2-D (C, L) or 3-D (N, C, L) input, got shape {x.shape}")


def _pool_geometry(length: int, kernel_size, stride, padding, dilation, ceil_mode: bool, op: str):
    """kernel, stride, padding, dilation and the output length, as torch's pooling computes and checks them."""
    kernel_size = single(kernel_size, op, "kernel_size")
    stride = kernel_size if stride is None or stride == () or stride == [] else single(stride, op, "stride")
    padding, dilation = single(padding, op, "padding"), single(dilation, op, "dilation")
    if kernel_size < 1 or stride < 1 or dilation < 1:
        raise ValueError(f"{op}: kernel_size, stride and dilation must be >= 1, "
                         f"got {kernel_size}, {stride}, {dilation}")
    if not 0 <= padding <= kernel_size // 2:
        raise ValueError(f"{op}: padding must be between 0 and half the kernel size ({kernel_size // 2}), "
                         f"got {padding}")
    span = dilation * (kernel_size - 1) + 1
    steps = (length + 2 * padding - span) / stride
    out_length = (math.ceil(steps) if ceil_mode else math.floor(steps)) + 1
    if ceil_mode and (out_length - 1) * stride >= length + padding:
        out_length -= 1  # the last window must start inside the input or the left padding
    if out_length < 1:
        raise ValueError(f"{op}: input length {length} (padding {padding}) is too short for a window of {span}")
    return kernel_size, stride, padding, dilation, out_length


def _max_over_windows(x, window_index, padding):
    """out[..., t] = max of xp[..., window_index[t, :]] where xp is x with ``padding`` -inf on each side
    (window entries index xp); also the argmax positions in x (int64)."""
    # -inf padding on the left, and on the right as far as the last window reaches (with ceil_mode and a
    # dilation it may reach past the right padding, where torch reads -inf too)
    right = max(padding, int(window_index.max()) + 1 - padding - x.shape[-1]) if window_index.size else padding
    xp = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(padding, right)], constant_values=-np.inf) if padding or right else x
    windows = xp[..., window_index]  # (..., L_out, W)
    best = np.argmax(windows, axis=-1)[..., None]
    index = np.take_along_axis(np.broadcast_to(window_index, windows.shape), best, axis=-1)[..., 0] - padding
    return np.take_along_axis(windows, best, axis=-1)[..., 0], index.astype(np.int64)


def max_pool1d_forward(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Max over sliding windows of the last axis; padding never wins. -> (y, indices); saved: indices
    (positions in x, int64), which backward sends the gradient to."""
    op = "max_pool1d"
    _check_input(x, op)
    kernel_size, stride, padding, dilation, out_length = _pool_geometry(x.shape[-1], kernel_size, stride, padding,
                                                                       dilation, ceil_mode, op)
    index = (np.arange(out_length) * stride)[:, None] + np.arange(kernel_size) * dilation  # into the padded input
    return _max_over_windows(x, index, padding)


def adaptive_max_pool1d_forward(x, output_size):
    """Max over ``output_size`` windows covering the last axis as torch splits it (window i spans
    [floor(i*L/out), ceil((i+1)*L/out))). -> (y, indices); saved: indices."""
    op = "adaptive_max_pool1d"
    _check_input(x, op)
    length = x.shape[-1]
    out = single(output_size, op, "output_size")
    if out < 1 or length < 1:
        raise ValueError(f"{op}: output_size and the input length must be >= 1, got {out} and {length}")
    i = np.arange(out)
    start, end = (i * length) // out, -((-(i + 1) * length) // out)
    index = np.minimum(start[:, None] + np.arange((end - start).max()), end[:, None] - 1)
    return _max_over_windows(x, index, 0)


def max_pool1d_backward(dy, indices, length: int):
    """dx[..., i] = sum of dy[..., t] over the windows t whose max came from i (max_pool1d and
    adaptive_max_pool1d; ``length`` is x's last dim). -> (dx,)"""
    inside = (indices >= 0) & (indices < length)  # False only for a window made of padding alone
    dy = dy if inside.all() else np.where(inside, dy, 0).astype(dy.dtype)
    return (_scatter_to_input(dy, np.clip(indices, 0, length - 1), length),)


def _reachable_taps(length, kernel_size, padding):
    """How many of a window's taps can fall on the input: every window starts at or after -padding, so taps
    past ``length + padding`` read only padding zeros (the divisor still counts them as torch does)."""
    return min(kernel_size, length + padding)


def _avg_geometry(length, kernel_size, stride, padding, ceil_mode, count_include_pad):
    kernel_size, stride, padding, _, out_length = _pool_geometry(length, kernel_size, stride, padding, 1, ceil_mode,
                                                                 "avg_pool1d")
    start = np.arange(out_length) * stride - padding
    end = np.minimum(start + kernel_size, length + padding)
    divisor = end - start if count_include_pad else np.minimum(end, length) - np.maximum(start, 0)
    return kernel_size, stride, padding, out_length, divisor.astype(np.float32)


def avg_pool1d_forward(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over sliding windows of the last axis. -> (y,); saved: none (backward takes x's shape)."""
    _check_input(x, "avg_pool1d")
    kernel_size, stride, padding, out_length, divisor = _avg_geometry(x.shape[-1], kernel_size, stride, padding,
                                                                      ceil_mode, count_include_pad)
    taps = _reachable_taps(x.shape[-1], kernel_size, padding)
    xp = np.pad(x, [(0, 0)] * (x.ndim - 1) + [(padding, padding + taps)])
    sums = sliding_window_view(xp, taps, axis=-1)[..., : stride * (out_length - 1) + 1 : stride, :].sum(-1)
    return ((sums / divisor).astype(x.dtype, copy=False),)


def avg_pool1d_backward(dy, input_shape, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True):
    """Each window's gradient shared evenly by its taps. -> (dx,)"""
    input_shape = tuple(input_shape)
    kernel_size, stride, padding, out_length, divisor = _avg_geometry(input_shape[-1], kernel_size, stride, padding,
                                                                      ceil_mode, count_include_pad)
    share = (dy / divisor).astype(dy.dtype, copy=False)
    taps = _reachable_taps(input_shape[-1], kernel_size, padding)
    dxp = np.zeros(input_shape[:-1] + (input_shape[-1] + 2 * padding + taps,), dy.dtype)
    for tap in range(taps):  # a loop over the kernel's taps, each a vectorised strided add
        dxp[..., tap: tap + stride * (out_length - 1) + 1: stride] += share
    return (dxp[..., padding: padding + input_shape[-1]],)
