"""conv1d over the C++ kernels (``_C.conv1d_forward`` / ``_C.conv1d_backward``), with
``torch.nn.functional.conv1d``'s arguments and semantics (padding an int, 'valid' or 'same'; unbatched input)."""
from __future__ import annotations

import numpy as np

from .. import _C
from ._checks import single


def resolve_padding(padding, kernel_size: int, stride: int, dilation: int, op: str):
    """``padding`` (an int, a 1-tuple, 'valid' or 'same', or an explicit (left, right) pair of ints) as
    (left, right) zeros, as torch pads: 'same' adds dilation * (kernel_size - 1) in total, the odd one on the
    right, and needs stride 1."""
    if isinstance(padding, (tuple, list)) and len(padding) == 2:
        pads = tuple(single(p, op, "padding") for p in padding)
        if min(pads) < 0:
            raise ValueError(f"{op}: argument 'padding' must be non-negative, got {tuple(padding)}")
        return pads
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


def _options(weight, stride, padding, dilation, groups):
    op = "conv1d"
    stride, dilation, groups = single(stride, op, "stride"), single(dilation, op, "dilation"), single(groups, op, "groups")
    kernel_size = np.shape(weight)[-1] if np.ndim(weight) == 3 else 1
    return dict(stride=stride, padding=resolve_padding(padding, kernel_size, stride, dilation, op),
                dilation=dilation, groups=groups)


def conv1d_forward(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1):
    """x (N, C_in, L) or (C_in, L), weight (C_out, C_in/groups, K), bias (C_out,) or None ->
    (y (N, C_out, L_out) or (C_out, L_out),); saved: none (backward takes x, weight)."""
    options = _options(weight, stride, padding, dilation, groups)
    if np.ndim(x) == 2:
        return (_C.conv1d_forward(x[None], weight, bias, **options)[0],)
    return (_C.conv1d_forward(x, weight, bias, **options),)


def conv1d_backward(dy, x, weight, stride=1, padding=0, dilation=1, groups=1, needs=(True, True, True)):
    """needs: (input, weight, bias). -> (dx, dweight, dbias)"""
    options = _options(weight, stride, padding, dilation, groups)
    unbatched = x.ndim == 2
    if unbatched:
        x, dy = x[None], dy[None]
    dx, dw, db = _C.conv1d_backward(x, weight, dy, **options, input_grad=needs[0], weight_grad=needs[1],
                                    bias_grad=needs[2])
    return (dx[0] if unbatched and dx is not None else dx), dw, db
