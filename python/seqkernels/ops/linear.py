"""``linear``: y = x Wᵀ + b over the last dimension of x, on the fused C++ kernel (GEMM + bias)."""
from __future__ import annotations


from .. import _C
from ..autograd import Function
from ._checks import float32_array, optional_float32


class Linear(Function):
    @staticmethod
    def forward(ctx, input, weight, bias):
        x = float32_array(input, "linear", "input")
        w = float32_array(weight, "linear", "weight")
        if w.ndim != 2:
            raise ValueError(f"linear: argument 'weight' must be 2-D (out_features, in_features), got shape {w.shape}")
        if x.ndim == 0 or x.shape[-1] != w.shape[1]:
            raise ValueError(f"linear: input of shape {x.shape} does not match weight of shape {w.shape}: "
                             f"expected the last dim of input to be {w.shape[1]}")
        b = optional_float32(bias, "linear", "bias", (w.shape[0],))
        x2 = x.reshape(-1, w.shape[1])
        ctx.save_for_backward(x2, w)
        ctx.input_shape = x.shape
        ctx.has_bias = b is not None
        return _C.linear_forward(x2, w, b).reshape(x.shape[:-1] + (w.shape[0],))

    @staticmethod
    def backward(ctx, grad_output):
        x2, w = ctx.saved_tensors
        need_x, need_w, need_b = ctx.needs_input_grad
        dx, dw, db = _C.linear_backward(grad_output.reshape(-1, w.shape[0]), x2, w, need_x, need_w,
                                        need_b and ctx.has_bias)
        return (None if dx is None else dx.reshape(ctx.input_shape)), dw, db


def linear(input, weight, bias=None):
    """``input @ weight.T + bias`` over the last dimension (any leading dims), as ``torch.nn.functional.linear``.
    input (*, in_features), weight (out_features, in_features), bias (out_features) or None; float32."""
    return Linear.apply(input, weight, bias)
