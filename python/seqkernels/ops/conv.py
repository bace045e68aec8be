"""conv1d as an autograd op over the C++ kernels (``_C.conv1d_forward`` / ``_C.conv1d_backward``), with
``torch.nn.functional.conv1d``'s arguments and semantics."""
from __future__ import annotations

import numpy as np

from .. import _C
from ..autograd import Function
from ..tensor import Tensor


class Conv1d(Function):
    """y = conv1d(x, w) + b; padding is resolved to (left, right) zeros before this runs."""

    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding, dilation, groups):
        ctx.options = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
        ctx.has_bias = bias is not None
        ctx.save_for_backward(x, weight)
        return _C.conv1d_forward(x, weight, bias, **ctx.options)

    @staticmethod
    def backward(ctx, grad_output):
        x, weight = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad[:3]
        dx, dw, db = _C.conv1d_backward(x, weight, grad_output, **ctx.options, input_grad=need_x, weight_grad=need_w,
                                        bias_grad=need_b and ctx.has_bias)
        return dx, dw, db


def single(value, op: str, name: str) -> int:
    """torch's 1-D conv/pool arguments: an int or a 1-tuple of int."""
    if isinstance(value, (tuple, list)) and len(value) == 1:
        value = value[0]
    if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
        raise TypeError(f"{op}: argument '{name}' must be an int or a 1-tuple of int, got {value!r}")
    return int(value)


def resolve_padding(padding, kernel_size: int, stride: int, dilation: int, op: str):
    """``padding`` (an int, a 1-tuple, 'valid' or 'same') as (left, right) zeros, as torch pads: 'same' adds
    dilation * (kernel_size - 1) in total, the odd one on the right, and needs stride 1."""
    if isinstance(padding, str):
        if padding == "valid":
            return 0, 0
        if padding == "same":
            if stride != 1:
                raise ValueError(f"{op}: padding='same' is not supported for strided convolutions (stride={stride})")
            total = dilation * (kernel_size - 1)
            return total // 2, total - total // 2
        raise ValueError(f"{op}: invalid padding string {padding!r}, should be one of {{'valid', 'same'}}")
    pad = single(padding, op, "padding")
    return pad, pad


def conv1d(input, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """1-D convolution over (N, C_in, L) or unbatched (C_in, L) input with weight (C_out, C_in/groups, K):
    ``torch.nn.functional.conv1d`` (cross-correlation; ``padding`` an int, 'valid' or 'same')."""
    op = "conv1d"
    stride, dilation = single(stride, op, "stride"), single(dilation, op, "dilation")
    groups = single(groups, op, "groups")
    kernel_size = np.shape(weight)[-1] if np.ndim(weight) == 3 else 1
    pads = resolve_padding(padding, kernel_size, stride, dilation, op)
    unbatched = np.ndim(input) == 2
    if unbatched:
        input = input.unsqueeze(0) if isinstance(input, Tensor) else np.asarray(input)[None]
    y = Conv1d.apply(input, weight, bias, stride, pads, dilation, groups)
    return y.squeeze(0) if unbatched else y
