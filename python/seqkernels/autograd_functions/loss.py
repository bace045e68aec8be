"""Functions over ``ops/loss.py``."""
from __future__ import annotations

from ..autograd import Function
from ..ops import loss as L


class CrossEntropy(Function):
    @staticmethod
    def forward(ctx, x, target, weight, ignore_index, reduction, label_smoothing):
        options = (weight, ignore_index, reduction, label_smoothing)
        loss, lse, weight_sum = L.cross_entropy_forward(x, target, *options)
        ctx.saved, ctx.options = (x, target, lse, weight_sum), options
        return loss

    @staticmethod
    def backward(ctx, dy):
        return L.cross_entropy_backward(dy, *ctx.saved, *ctx.options)[0], None, None


class BinaryCrossEntropyWithLogits(Function):
    @staticmethod
    def forward(ctx, x, target, weight, pos_weight, reduction):
        ctx.saved, ctx.options = (x, target), (weight, pos_weight, reduction)
        return L.binary_cross_entropy_with_logits_forward(x, target, weight, pos_weight, reduction)[0]

    @staticmethod
    def backward(ctx, dy):
        return L.binary_cross_entropy_with_logits_backward(dy, *ctx.saved, *ctx.options,
                                                           needs=ctx.needs_input_grad[:2])


class MseLoss(Function):
    @staticmethod
    def forward(ctx, x, target, reduction):
        ctx.saved = (x, target, reduction)
        return L.mse_loss_forward(x, target, reduction)[0]

    @staticmethod
    def backward(ctx, dy):
        return L.mse_loss_backward(dy, *ctx.saved, needs=ctx.needs_input_grad[:2])
