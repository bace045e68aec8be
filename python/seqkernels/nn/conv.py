"""``Conv1d``: torch.nn.Conv1d's parameters (weight (out_channels, in_channels/groups, kernel_size), bias),
arguments and default initialisation."""
from __future__ import annotations

import math

import numpy as np

from .. import functional as F
from ..ops._checks import single
from ..ops.conv import resolve_padding
from . import init
from .linear import _positive_int
from .module import Module
from .parameter import Parameter


class Conv1d(Module):
    """1-D convolution over (N, C_in, L) input. Initialised as torch: weight kaiming_uniform_(a=sqrt(5)), i.e.
    U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = in_channels/groups * kernel_size, and bias with the same
    bound. ``padding_mode`` is 'zeros' only."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", dtype=None):
        super().__init__()
        op = "Conv1d"
        self.in_channels = _positive_int(in_channels, op, "in_channels")
        self.out_channels = _positive_int(out_channels, op, "out_channels")
        self.kernel_size = (_positive_int(single(kernel_size, op, "kernel_size"), op, "kernel_size"),)
        self.stride = (_positive_int(single(stride, op, "stride"), op, "stride"),)
        self.dilation = (_positive_int(single(dilation, op, "dilation"), op, "dilation"),)
        self.groups = _positive_int(groups, op, "groups")
        if self.in_channels % self.groups or self.out_channels % self.groups:
            raise ValueError(f"{op}: in_channels ({self.in_channels}) and out_channels ({self.out_channels}) must "
                             f"both be divisible by groups ({self.groups})")
        if padding_mode != "zeros":
            raise ValueError(f"{op}: padding_mode must be 'zeros' (the only mode implemented), got {padding_mode!r}")
        self.padding_mode = padding_mode
        resolve_padding(padding, self.kernel_size[0], self.stride[0], self.dilation[0], op)  # validates
        self.padding = padding if isinstance(padding, str) else (single(padding, op, "padding"),)
        dtype = np.float32 if dtype is None else dtype
        self.weight = Parameter(np.empty((self.out_channels, self.in_channels // self.groups, self.kernel_size[0]),
                                         dtype=dtype))
        self.bias = Parameter(np.empty(self.out_channels, dtype=dtype)) if bias else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        init.kaiming_uniform_(self.weight, a=math.sqrt(5))
        if self.bias is not None:
            fan_in = self.in_channels // self.groups * self.kernel_size[0]
            bound = 1.0 / math.sqrt(fan_in)
            init.uniform_(self.bias, -bound, bound)

    def forward(self, input):
        padding = self.padding if isinstance(self.padding, str) else self.padding[0]
        return F.conv1d(input, self.weight, self.bias, self.stride[0], padding, self.dilation[0], self.groups)

    def extra_repr(self) -> str:
        text = (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}")
        if self.padding != (0,):
            text += f", padding={self.padding!r}"
        if self.dilation != (1,):
            text += f", dilation={self.dilation}"
        if self.groups != 1:
            text += f", groups={self.groups}"
        if self.bias is None:
            text += ", bias=False"
        return text
