"""1-D pooling over the last axis of (N, C, L) or (C, L) input, with ``torch.nn.functional``'s semantics:
max_pool1d, avg_pool1d and adaptive_max_pool1d (global max over time with output_size=1).

On the C++ kernels (``_C.max_pool1d_forward`` / ``_backward``, ``_C.avg_pool1d_forward`` / ``_backward``); this
module computes torch's geometry (output length in floor / ceil mode, the checks). float64 input is pooled in
float32 and cast back. adaptive_max_pool1d runs on the max-pool kernel when its windows are uniform (the length a
multiple of output_size, global max over time included); other output sizes give windows of unequal lengths,
gathered here in numpy.
"""
from __future__ import annotations

import math

import numpy as np

from .. import _C
from ._checks import single


_F32 = np.dtype(np.float32)


def _f32(x: np.ndarray) -> np.ndarray:
    return x if x.dtype == _F32 else x.astype(_F32)


def _like(y: np.ndarray, x: np.ndarray) -> np.ndarray:
    """A float32 result in x's dtype."""
    return y if x.dtype == _F32 else y.astype(x.dtype)


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


def max_pool1d_forward(x, kernel_size, stride=None, padding=0, dilation=1, ceil_mode=False):
    """Max over sliding windows of the last axis; padding never wins (with ceil_mode a last window may reach
    past the right padding: those taps are -inf too, as torch). -> (y, indices); saved: indices (positions in
    x, int64), which backward sends the gradient to."""
    op = "max_pool1d"
    _check_input(x, op)
    kernel_size, stride, padding, dilation, out_length = _pool_geometry(x.shape[-1], kernel_size, stride, padding,
                                                                       dilation, ceil_mode, op)
    y, indices = _C.max_pool1d_forward(_f32(x), kernel_size, stride, padding, dilation, out_length)
    return _like(y, x), indices


def adaptive_max_pool1d_forward(x, output_size):
    """Max over ``output_size`` windows covering the last axis as torch splits it (window i spans
    [floor(i*L/out), ceil((i+1)*L/out))). -> (y, indices); saved: indices."""
    op = "adaptive_max_pool1d"
    _check_input(x, op)
    length = x.shape[-1]
    out = single(output_size, op, "output_size")
    if out < 1 or length < 1:
        raise ValueError(f"{op}: output_size and the input length must be >= 1, got {out} and {length}")
    if length % out == 0:  # equal windows: plain max pooling
        y, indices = _C.max_pool1d_forward(_f32(x), length // out, length // out, 0, 1, out)
        return _like(y, x), indices
    i = np.arange(out)
    start, end = (i * length) // out, -((-(i + 1) * length) // out)
    window_index = np.minimum(start[:, None] + np.arange((end - start).max()), end[:, None] - 1)
    windows = x[..., window_index]  # (..., out, widest window), the shorter windows repeating their last tap
    best = np.argmax(windows, axis=-1)[..., None]
    index = np.take_along_axis(np.broadcast_to(window_index, windows.shape), best, axis=-1)[..., 0]
    return np.take_along_axis(windows, best, axis=-1)[..., 0], index.astype(np.int64)


def max_pool1d_backward(dy, indices, length: int):
    """dx[..., i] = sum of dy[..., t] over the windows t whose max came from i (max_pool1d and
    adaptive_max_pool1d; ``length`` is x's last dim). -> (dx,)"""
    return (_like(_C.max_pool1d_backward(_f32(dy), indices, int(length)), dy),)


def _avg_geometry(length, kernel_size, stride, padding, ceil_mode):
    kernel_size, stride, padding, _, out_length = _pool_geometry(length, kernel_size, stride, padding, 1, ceil_mode,
                                                                 "avg_pool1d")
    return kernel_size, stride, padding, out_length


def avg_pool1d_forward(x, kernel_size, stride=None, padding=0, ceil_mode=False, count_include_pad=True):
    """Mean over sliding windows of the last axis (only the taps inside the input are read, whatever the
    kernel size; the divisor counts the padding when ``count_include_pad``). -> (y,); saved: none (backward
    takes x's shape)."""
    _check_input(x, "avg_pool1d")
    kernel_size, stride, padding, out_length = _avg_geometry(x.shape[-1], kernel_size, stride, padding, ceil_mode)
    y = _C.avg_pool1d_forward(_f32(x), kernel_size, stride, padding, out_length, bool(count_include_pad))
    return (_like(y, x),)


def avg_pool1d_backward(dy, input_shape, kernel_size, stride=None, padding=0, ceil_mode=False,
                        count_include_pad=True):
    """Each window's gradient shared evenly by its taps inside the input. -> (dx,)"""
    input_shape = tuple(input_shape)
    kernel_size, stride, padding, _ = _avg_geometry(input_shape[-1], kernel_size, stride, padding, ceil_mode)
    dx = _C.avg_pool1d_backward(_f32(dy), input_shape[-1], kernel_size, stride, padding, bool(count_include_pad))
    return (_like(dx, dy).reshape(input_shape),)
