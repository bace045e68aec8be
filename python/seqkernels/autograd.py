"""Reverse-mode autograd: ``Function`` (the pattern every op follows) and the backward engine.

An op is a ``Function`` subclass with two static methods over *numpy arrays*::

    class Scale(Function):
        @staticmethod
        def forward(ctx, x, factor):          # Tensors arrive unwrapped as numpy arrays
            ctx.factor = factor               # anything backward needs goes on ctx
            return x * factor                 # one array, or a tuple of arrays
        @staticmethod
        def backward(ctx, grad_out):          # one numpy gradient per output
            return grad_out * ctx.factor, None   # one per forward argument (None: no gradient)

    y = Scale.apply(x, 2.0)                   # Tensors in, Tensor(s) out

``ctx.needs_input_grad`` (one bool per forward argument) lets backward skip work. Gradients of outputs
that did not reach the loss arrive as zeros. The graph holds no reference cycles (outputs point to
their node, nodes to their inputs), and ``backward`` drops each node's saved state once it has run, so
memory stays flat across training steps.
"""
from __future__ import annotations

import threading
from typing import List, Tuple

import numpy as np


class _GradMode(threading.local):
    enabled = True


_grad_mode = _GradMode()


def is_grad_enabled() -> bool:
    return _grad_mode.enabled


class set_grad_enabled:
    """Context manager (and plain call) that turns graph recording on or off for this thread."""

    def __init__(self, mode: bool):
        self.prev = _grad_mode.enabled
        _grad_mode.enabled = bool(mode)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _grad_mode.enabled = self.prev
        return False


class _GradModeBlock:
    """``with``-block and decorator that sets grad mode to ``mode`` and restores it afterwards."""

    mode = False

    def __enter__(self):
        self.prev = _grad_mode.enabled
        _grad_mode.enabled = self.mode
        return self

    def __exit__(self, *exc):
        _grad_mode.enabled = self.prev
        return False

    def __call__(self, fn):
        import functools

        @functools.wraps(fn)
        def wrapper(*args, **kwargs):
            with type(self)():
                return fn(*args, **kwargs)

        return wrapper


class no_grad(_GradModeBlock):
    """``with sk.no_grad():`` — ops record no graph (inference, optimizer updates). Also a decorator."""

    mode = False


class enable_grad(_GradModeBlock):
    """``with sk.enable_grad():`` — records the graph again inside a ``no_grad`` block. Also a decorator."""

    mode = True


class Context:
    """Scratch space an op's forward fills for its backward. ``needs_input_grad`` is () when no graph is
    recorded (grad mode off, or no input requires grad)."""

    needs_input_grad: Tuple[bool, ...] = ()

    def save_for_backward(self, *arrays) -> None:
        self.saved_tensors = arrays


class Node:
    """One recorded op application: the function, its context, its inputs, and its outputs' metadata."""

    __slots__ = ("fn", "ctx", "inputs", "out_meta", "name", "__weakref__")

    def __init__(self, fn, ctx, inputs, out_meta):
        self.fn = fn
        self.ctx = ctx
        self.inputs = inputs          # one entry per forward argument: a Tensor or None
        self.out_meta = out_meta      # (shape, dtype) per output
        self.name = fn.__name__


class Function:
    """Base class of differentiable ops; see the module docstring."""

    @staticmethod
    def forward(ctx, *args, **kwargs):
        raise NotImplementedError

    @staticmethod
    def backward(ctx, *grad_outputs):
        raise NotImplementedError

    @classmethod
    def apply(cls, *args, **kwargs):
        """Tensors in (unwrapped for ``forward``), Tensors out: of the first Tensor argument's type. A graph node
        is recorded only when grad mode is on and some input requires grad."""
        raw = []
        out_type = None
        record = False
        for a in args:
            if isinstance(a, TensorBase):
                raw.append(a.data)
                if out_type is None:
                    out_type = type(a)
                if a.requires_grad:
                    record = True
            else:
                raw.append(a)
        if out_type is None:  # applied to arrays alone: tensor.py imports this module, so look Tensor up now
            from .tensor import Tensor as out_type
        ctx = Context()
        if record and _grad_mode.enabled:
            ctx.needs_input_grad = tuple([isinstance(a, TensorBase) and a.requires_grad for a in args])
        else:
            record = False
        result = cls.forward(ctx, *raw, **kwargs)
        wrap = out_type._from_op
        if type(result) is not tuple:
            if type(result) is not np.ndarray:
                result = np.asarray(result)  # a numpy scalar from a full reduction
            if not record:
                return wrap(result, None, 0)
            node = Node(cls, ctx, [a if isinstance(a, TensorBase) else None for a in args],
                        ((result.shape, result.dtype),))
            return wrap(result, node if result.dtype.kind == "f" else None, 0)
        result = tuple(o if type(o) is np.ndarray else np.asarray(o) for o in result)
        if not record:
            return tuple(wrap(o, None, 0) for o in result)
        node = Node(cls, ctx, [a if isinstance(a, TensorBase) else None for a in args],
                    [(o.shape, o.dtype) for o in result])
        return tuple(wrap(o, node if o.dtype.kind == "f" else None, i) for i, o in enumerate(result))


class TensorBase:
    """What the engine relies on in a tensor: its array, whether it requires grad, its gradient and the node
    that made it. ``seqkernels.tensor.Tensor`` builds on this class."""

    __slots__ = ("data", "requires_grad", "grad", "_node", "_out_index", "__weakref__")

    @classmethod
    def _from_op(cls, array: np.ndarray, node, index: int):
        """A tensor over ``array`` made by ``node``'s output ``index`` (None: a leaf that requires no grad)."""
        t = cls.__new__(cls)
        t.data = array
        t.grad = None
        t._node = node
        t._out_index = index
        t.requires_grad = node is not None
        return t


def _topological_order(root_node: Node) -> List[Node]:
    """Nodes reachable from root, each after every node that consumes its outputs (iterative DFS)."""
    order: List[Node] = []
    visited = set()
    stack = [(root_node, False)]
    while stack:
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
            continue
        if id(node) in visited:
            continue
        visited.add(id(node))
        stack.append((node, True))
        for inp in node.inputs:
            if inp is not None and inp._node is not None and id(inp._node) not in visited:
                stack.append((inp._node, False))
    order.reverse()  # consumers first
    return order


def run_backward(root, gradient: np.ndarray, retain_graph: bool = False) -> None:
    """Propagates ``gradient`` (d loss / d root) to every leaf that requires grad, accumulating ``.grad``."""
    if root._node is None:
        if root.requires_grad:  # backward on a leaf: its gradient is the seed itself
            root._accumulate_grad(gradient)
        return
    pending = {id(root._node): [None] * len(root._node.out_meta)}
    pending[id(root._node)][root._out_index] = gradient
    # A leaf's first gradient is adopted as its .grad without a copy when its memory is a fresh array
    # that nothing else can hold: not adopted already in this pass (add's backward, for one, returns the
    # same array for both inputs) and not the caller's seed. See _sole_owner.
    adopted = {id(gradient): gradient}
    for node in _topological_order(root._node):
        grads = pending.pop(id(node), None)
        if grads is None:
            continue
        if node.ctx is None:
            raise RuntimeError(
                f"backward through {node.name} a second time: its saved state was freed; "
                "pass retain_graph=True to the first backward() to keep it")
        grads = [np.zeros(shape, dtype=dtype) if g is None else g for g, (shape, dtype) in zip(grads, node.out_meta)]
        in_grads = node.fn.backward(node.ctx, *grads)
        if not isinstance(in_grads, tuple):
            in_grads = (in_grads,)
        if len(in_grads) < len(node.inputs):
            in_grads = in_grads + (None,) * (len(node.inputs) - len(in_grads))
        for inp, g in zip(node.inputs, in_grads):
            if inp is None or g is None or not inp.requires_grad:
                continue
            if getattr(g, "is_sparse", False):  # a SparseGrad (ops/embedding.py): kept sparse only for leaves
                if inp._node is not None:
                    g = g.to_dense()
            else:
                g = np.asarray(g)
            if g.shape != inp.shape:
                raise RuntimeError(
                    f"{node.name}.backward returned a gradient of shape {g.shape} for an input of shape {inp.shape}")
            if g.dtype != inp.data.dtype:  # e.g. a float64 scalar widened it: gradients keep their input's dtype
                g = g.astype(inp.data.dtype)
            if inp._node is None:
                owner = _sole_owner(g)
                adopt = owner is not None and id(owner) not in adopted
                if adopt:
                    adopted[id(owner)] = owner  # held until the pass ends, so ids stay unique
                inp._accumulate_grad(g, adopt=adopt)
            else:
                slots = pending.setdefault(id(inp._node), [None] * len(inp._node.out_meta))
                k = inp._out_index
                slots[k] = g if slots[k] is None else slots[k] + g
        if not retain_graph:  # free saved arrays and the links to inputs: the graph dies with this pass
            node.ctx = None
            node.inputs = ()


def _sole_owner(g) -> "np.ndarray | None":
    """The array whose memory g is, when g covers all of it in order (g itself, or a reshape of it such as
    ``dx.reshape(input_shape)``): the unit adoption is tracked by. None for anything else (slices,
    broadcasts, strided views, read-only arrays), which is copied into .grad instead."""
    if not isinstance(g, np.ndarray) or not g.flags.writeable or not g.flags.c_contiguous:
        return None
    if g.base is None:
        return g
    base = g.base
    if isinstance(base, np.ndarray) and base.base is None and base.flags.c_contiguous and base.size == g.size:
        return base
    return None
