"""Functions over ``ops/elementwise.py``: broadcasting arithmetic and unary math, each the generic shell
(``_generic.op_function``) over its op-layer pair."""
from __future__ import annotations

from ..ops import elementwise as E
from ._generic import op_function


def _f(name, op, saves, arity=1, takes_needs=False):
    return op_function(name, E, op, saves, arity, takes_needs, __name__)


Add = _f("Add", "add", "shapes", 2, True)
Sub = _f("Sub", "sub", "shapes", 2, True)
Mul = _f("Mul", "mul", "inputs", 2, True)
Div = _f("Div", "div", "inputs", 2, True)
Pow = _f("Pow", "pow", "inputs_output", 2, True)
Neg = _f("Neg", "neg", "nothing")
# backward takes y: exp, sqrt, tanh, sigmoid, relu; x (and the options): log, abs, silu, softplus, leaky_relu, elu
Exp, Sqrt, Tanh, Sigmoid, Relu = (_f(n, n.lower(), "output") for n in ("Exp", "Sqrt", "Tanh", "Sigmoid", "Relu"))
Log, Abs, Silu, Softplus, Elu = (_f(n, n.lower(), "inputs") for n in ("Log", "Abs", "Silu", "Softplus", "Elu"))
LeakyRelu = _f("LeakyRelu", "leaky_relu", "inputs")
