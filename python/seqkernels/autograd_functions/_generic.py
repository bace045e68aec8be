"""``op_function``: the one ``Function`` shell over an op-layer ``<op>_forward`` / ``<op>_backward`` pair whose
backward takes, after ``dy``, what ``saves`` names (then forward's options, then ``needs`` when it takes them)."""
from __future__ import annotations

from ..autograd import Function
from ..ops.elementwise import shape_of

# what backward takes after dy: the inputs, their shapes, forward's output, the inputs and the output, nothing
_SAVES = {
    "inputs": lambda inputs, y: inputs,
    "shapes": lambda inputs, y: tuple(shape_of(x) for x in inputs),
    "output": lambda inputs, y: (y,),
    "inputs_output": lambda inputs, y: inputs + (y,),
    "nothing": lambda inputs, y: (),
}


class OpFunction(Function):
    """apply(*inputs, *options): ``arity`` differentiable inputs, then the op's options."""

    arity = 1
    saves = "inputs"
    takes_needs = False

    @classmethod
    def forward(cls, ctx, *args):
        y = cls.op_forward(*args)[0]
        if ctx.needs_input_grad:  # () when no graph is recorded
            ctx.saved = _SAVES[cls.saves](args[:cls.arity], y)
            ctx.options = args[cls.arity:]
        return y

    @classmethod
    def backward(cls, ctx, dy):
        if cls.takes_needs:
            grads = cls.op_backward(dy, *ctx.saved, *ctx.options, ctx.needs_input_grad[:cls.arity])
        else:
            grads = cls.op_backward(dy, *ctx.saved, *ctx.options)
        return tuple(grads) + (None,) * len(ctx.options)


def op_function(name: str, module, op: str, saves: str, arity: int = 1, takes_needs: bool = False,
                qualname: str = __name__):
    """The Function class ``name`` over ``module.<op>_forward`` / ``<op>_backward``."""
    forward = getattr(module, op + "_forward")
    return type(name, (OpFunction,), {
        "op_forward": staticmethod(forward), "op_backward": staticmethod(getattr(module, op + "_backward")),
        "arity": arity, "saves": saves, "takes_needs": takes_needs, "__doc__": forward.__doc__,
        "__module__": qualname})
