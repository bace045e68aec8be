"""Functions over ``ops/elementwise.py``: broadcasting arithmetic and unary math."""
from __future__ import annotations

from ..autograd import Function
from ..ops import elementwise as E


class Add(Function):
    @staticmethod
    def forward(ctx, a, b):
        if ctx.needs_input_grad:  # () when no graph is recorded
            ctx.shapes = (E.shape_of(a), E.shape_of(b))
        return E.add_forward(a, b)[0]

    @staticmethod
    def backward(ctx, dy):
        return E.add_backward(dy, *ctx.shapes, ctx.needs_input_grad)


class Sub(Function):
    @staticmethod
    def forward(ctx, a, b):
        if ctx.needs_input_grad:  # () when no graph is recorded
            ctx.shapes = (E.shape_of(a), E.shape_of(b))
        return E.sub_forward(a, b)[0]

    @staticmethod
    def backward(ctx, dy):
        return E.sub_backward(dy, *ctx.shapes, ctx.needs_input_grad)


class Mul(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.operands = (a, b)
        return E.mul_forward(a, b)[0]

    @staticmethod
    def backward(ctx, dy):
        return E.mul_backward(dy, *ctx.operands, ctx.needs_input_grad)


class Div(Function):
    @staticmethod
    def forward(ctx, a, b):
        ctx.operands = (a, b)
        return E.div_forward(a, b)[0]

    @staticmethod
    def backward(ctx, dy):
        return E.div_backward(dy, *ctx.operands, ctx.needs_input_grad)


class Pow(Function):
    @staticmethod
    def forward(ctx, a, b):
        (y,) = E.pow_forward(a, b)
        ctx.saved = (a, b, y)
        return y

    @staticmethod
    def backward(ctx, dy):
        return E.pow_backward(dy, *ctx.saved, ctx.needs_input_grad)


class Neg(Function):
    @staticmethod
    def forward(ctx, x):
        return E.neg_forward(x)[0]

    @staticmethod
    def backward(ctx, dy):
        return E.neg_backward(dy)[0]


class _SavesOutput(Function):
    """A unary op whose backward takes its output y (exp, sqrt, tanh, sigmoid, relu)."""

    @classmethod
    def forward(cls, ctx, x):
        ctx.y = cls.op_forward(x)[0]
        return ctx.y

    @classmethod
    def backward(cls, ctx, dy):
        return cls.op_backward(dy, ctx.y)[0]


class _SavesInput(Function):
    """A unary op (with options) whose backward takes its input x (log, abs, silu, softplus, leaky_relu, elu)."""

    @classmethod
    def forward(cls, ctx, x, *options):
        ctx.x, ctx.options = x, options
        return cls.op_forward(x, *options)[0]

    @classmethod
    def backward(cls, ctx, dy):
        return (cls.op_backward(dy, ctx.x, *ctx.options)[0],) + (None,) * len(ctx.options)


def _unary(name: str, op: str, base):
    """The Function of ``ops.elementwise.<op>_forward`` / ``<op>_backward``."""
    forward = getattr(E, op + "_forward")
    return type(name, (base,), {"op_forward": staticmethod(forward), "op_backward": staticmethod(
        getattr(E, op + "_backward")), "__doc__": forward.__doc__, "__module__": __name__})


Exp, Sqrt, Tanh, Sigmoid, Relu = (_unary(n, n.lower(), _SavesOutput) for n in ("Exp", "Sqrt", "Tanh", "Sigmoid", "Relu"))
Log, Abs, Silu, Softplus, Elu = (_unary(n, n.lower(), _SavesInput) for n in ("Log", "Abs", "Silu", "Softplus", "Elu"))
LeakyRelu = _unary("LeakyRelu", "leaky_relu", _SavesInput)
