"""The Keras engine: ``Layer``, symbolic ``KerasTensor``s, ``Input``, the functional ``Model`` and ``Sequential``.

A ``Layer`` is an ``nn.Module`` (so ``fit`` / ``evaluate`` / ``predict``, optimizers and ``state_dict`` work on it
unchanged) whose weights are created by ``build(input_shape)`` on the first call, in Keras's layouts. Called on
arrays or Tensors it computes at once; called on ``KerasTensor``s (from ``Input``) it records a node of a graph
and returns symbolic outputs. The outputs' shapes are found by running the layer, in inference mode and without
recording gradients, on two small stand-in batches (batch and unknown dimensions 2 and then 3): a dimension that
differs between the two is unknown (``None``). ``Model(inputs, outputs)`` runs the recorded nodes in order.

Masks (Keras's ``mask_zero`` / ``compute_mask``) travel beside the values: a layer whose ``call`` takes ``mask``
receives its input's mask, and ``compute_mask`` gives its output's. In eager calls the mask rides on the output
Tensor (``keras_mask(t)``), as Keras's ``_keras_mask``.
"""
from __future__ import annotations

import inspect
import re
import weakref
from collections import OrderedDict
from contextlib import contextmanager
from typing import List

import numpy as np

from ..autograd import no_grad
from ..nn.module import Module
from ..nn.parameter import Parameter
from ..tensor import Tensor
from . import initializers as initializers_module
from . import regularizers as regularizers_module

# ---- names ------------------------------------------------------------------------------------------------
_name_counts: dict = {}


def _snake(name: str) -> str:
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def unique_name(base: str) -> str:
    """Keras's automatic names: ``dense``, ``dense_1``, ``dense_2``, ... per base name in this process."""
    count = _name_counts.get(base, 0)
    _name_counts[base] = count + 1
    return base if count == 0 else f"{base}_{count}"


def clear_session() -> None:
    """Resets the automatic layer names (``keras.backend.clear_session``)."""
    _name_counts.clear()


# ---- nested structures ------------------------------------------------------------------------------------
def flatten(structure) -> list:
    if isinstance(structure, dict):
        return [leaf for key in structure for leaf in flatten(structure[key])]
    if isinstance(structure, (list, tuple)):
        return [leaf for item in structure for leaf in flatten(item)]
    return [structure]


def map_structure(fn, structure):
    if isinstance(structure, dict):
        return type(structure)((k, map_structure(fn, v)) for k, v in structure.items())
    if isinstance(structure, tuple) and hasattr(structure, "_fields"):  # a namedtuple
        return type(structure)(*[map_structure(fn, v) for v in structure])
    if isinstance(structure, (list, tuple)):
        return type(structure)(map_structure(fn, v) for v in structure)
    return fn(structure)


# ---- symbolic tensors -------------------------------------------------------------------------------------
class KerasTensor:
    """A symbolic tensor: ``shape`` (``None`` for the batch and unknown dimensions), ``dtype``, and the layer
    call that made it. Arithmetic, indexing and comparison record small layers, as Keras's ops do."""

    def __init__(self, shape, dtype="float32", node=None, index: int = 0, has_mask: bool = False, name=None):
        self.shape = tuple(None if d is None else int(d) for d in shape)
        self.dtype = np.dtype(dtype)
        self.node, self.index, self.has_mask = node, index, has_mask
        self.name = name

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def __repr__(self) -> str:
        return f"<KerasTensor shape={self.shape}, dtype={self.dtype.name}, name={self.name}>"

    def __len__(self):
        raise TypeError("a KerasTensor has no length before it is computed; use .shape")

    def __iter__(self):
        raise TypeError("a KerasTensor is symbolic and cannot be iterated")

    def _op(self, fn, *others, name="op"):
        from .layers import Lambda
        return Lambda(lambda args: fn(*args), name=unique_name(name))([self, *others])

    def __add__(self, o): return self._op(lambda a, b: a + b, o, name="add_op")
    def __radd__(self, o): return self._op(lambda a, b: b + a, o, name="add_op")
    def __sub__(self, o): return self._op(lambda a, b: a - b, o, name="subtract_op")
    def __rsub__(self, o): return self._op(lambda a, b: b - a, o, name="subtract_op")
    def __mul__(self, o): return self._op(lambda a, b: a * b, o, name="multiply_op")
    def __rmul__(self, o): return self._op(lambda a, b: b * a, o, name="multiply_op")
    def __truediv__(self, o): return self._op(lambda a, b: a / b, o, name="divide_op")
    def __matmul__(self, o): return self._op(lambda a, b: a @ b, o, name="matmul_op")
    def __neg__(self): return self._op(lambda a: -a, name="negative_op")
    def __getitem__(self, key): return self._op(lambda a: a[key], name="get_item")


def _is_symbolic(structure) -> bool:
    return any(isinstance(leaf, KerasTensor) for leaf in flatten(structure))


class Node:
    """One call of a layer in a graph: the call's arguments (KerasTensors and constants, in their structure)
    and its outputs."""

    def __init__(self, layer, args, kwargs, outputs):
        self.layer, self.args, self.kwargs, self.outputs = layer, args, kwargs, outputs
        self.inputs = [t for t in flatten((args, kwargs)) if isinstance(t, KerasTensor)]


# ---- eager masks ------------------------------------------------------------------------------------------
_eager_masks: dict = {}


def _set_keras_mask(t, mask) -> None:
    if isinstance(t, Tensor):
        if mask is None:
            _eager_masks.pop(id(t), None)
            return
        key = id(t)
        _eager_masks[key] = (weakref.ref(t, lambda _, key=key: _eager_masks.pop(key, None)), mask)


def keras_mask(t):
    """The Keras mask riding on an eagerly computed Tensor (``tensor._keras_mask`` in Keras), or None."""
    entry = _eager_masks.get(id(t))
    return entry[1] if entry is not None and entry[0]() is t else None


# ---- inference mode for shape inference ---------------------------------------------------------------------
_inference_depth = [0]


@contextmanager
def _shape_inference():
    _inference_depth[0] += 1
    try:
        with no_grad():
            yield
    finally:
        _inference_depth[0] -= 1


def _stand_in(kt: KerasTensor, size: int):
    shape = tuple(size if d is None else d for d in kt.shape)
    if kt.dtype.kind in "iu":
        return Tensor(np.ones(shape, kt.dtype))
    if kt.dtype.kind == "b":
        return Tensor(np.ones(shape, np.bool_))
    return Tensor(np.random.default_rng(size).uniform(0.1, 0.9, shape).astype(kt.dtype))


def _to_tensor(value):
    """numpy arrays and numpy scalars become Tensors (ids keep their integer dtype); the rest is left alone."""
    if isinstance(value, (np.ndarray, np.generic)):
        return Tensor(np.asarray(value))
    return value


def _shape_of(structure):
    return map_structure(lambda t: tuple(t.shape) if hasattr(t, "shape") else None, structure)


# ---- Layer ------------------------------------------------------------------------------------------------
class Layer(Module):
    """Base class of Keras layers. Subclasses create weights in ``build(input_shape)`` with ``add_weight`` and
    compute in ``call(inputs, ...)`` (which may take ``mask`` and ``training``)."""

    def __init__(self, name=None, trainable: bool = True, dtype=None, input_shape=None, input_dim=None, **kwargs):
        super().__init__()
        unknown = set(kwargs) - {"autocast", "batch_input_shape", "batch_size"}
        if unknown:
            raise TypeError(f"{type(self).__name__}: unexpected keyword argument(s) {sorted(unknown)}")
        if name is not None and (not isinstance(name, str) or not name or "." in name):
            raise ValueError(f"{type(self).__name__}: name must be a non-empty string without '.', got {name!r}")
        object.__setattr__(self, "name", name or unique_name(_snake(type(self).__name__)))
        object.__setattr__(self, "built", False)
        object.__setattr__(self, "_trainable", bool(trainable))
        object.__setattr__(self, "_weight_order", [])  # (attribute name, trainable) in creation order
        object.__setattr__(self, "_regularized", [])   # (attribute name, regularizer)
        object.__setattr__(self, "_inbound_nodes", [])
        object.__setattr__(self, "_call_takes", None)
        object.__setattr__(self, "supports_masking", getattr(self, "supports_masking", False))
        self.dtype = "float32" if dtype is None else np.dtype(dtype).name
        if input_shape is None and input_dim is not None:
            input_shape = (input_dim,)
        if input_shape is None and "batch_input_shape" in kwargs:
            input_shape = tuple(kwargs["batch_input_shape"])[1:]
        self._input_shape_arg = None if input_shape is None else tuple(input_shape)

    # ---- weights ----------------------------------------------------------------------------------------
    def add_weight(self, name: str, shape, initializer="glorot_uniform", regularizer=None, trainable: bool = True,
                   dtype="float32", constraint=None):
        """Creates a weight under ``name`` (an attribute of the layer): trainable weights are Parameters,
        non-trainable ones buffers (as BatchNormalization's moving statistics)."""
        init = initializers_module.get(initializer)
        array = np.ascontiguousarray(init(tuple(int(d) for d in shape), dtype), dtype=dtype)
        attr = name.replace("/", "_")
        if trainable:
            weight = Parameter(array)
            weight.requires_grad = self._trainable
            setattr(self, attr, weight)
        else:
            weight = Tensor(array)
            self.register_buffer(attr, weight)
        self._weight_order.append((attr, trainable))
        reg = regularizers_module.get(regularizer)
        if reg is not None:
            self._regularized.append((attr, reg))
        return weight

    def _sublayers(self):
        return [m for m in self._modules.values() if m is not None]

    @property
    def weights(self) -> List[Tensor]:
        """Every weight in Keras's order: this layer's own (trainable, then non-trainable), then each
        sublayer's."""
        own = [self._parameters[attr] for attr, trainable in self._weight_order if trainable] + \
              [self._buffers[attr] for attr, trainable in self._weight_order if not trainable]
        seen = {id(w) for w in own}
        out = list(own)
        for child in self._sublayers():
            for w in (child.weights if isinstance(child, Layer) else _module_weights(child)):
                if id(w) not in seen:
                    seen.add(id(w))
                    out.append(w)
        return out

    @property
    def trainable_weights(self) -> List[Tensor]:
        return [w for w in self.weights if isinstance(w, Parameter) and w.requires_grad]

    @property
    def non_trainable_weights(self) -> List[Tensor]:
        return [w for w in self.weights if not (isinstance(w, Parameter) and w.requires_grad)]

    trainable_variables = trainable_weights
    variables = weights

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        object.__setattr__(self, "_trainable", bool(value))
        for w in self.weights:
            if isinstance(w, Parameter):
                w.requires_grad = bool(value)
        for child in self._sublayers():
            if isinstance(child, Layer):
                child.trainable = value

    def get_weights(self) -> List[np.ndarray]:
        """Copies of the weights, in ``weights``' order and Keras's layouts."""
        return [np.array(w.data) for w in self.weights]

    def set_weights(self, weights) -> None:
        """Copies arrays (for instance ``tf_layer.get_weights()``) into the weights, checking count and shapes
        before anything is written."""
        own = self.weights
        weights = list(weights)
        if len(weights) != len(own):
            raise ValueError(f"{self.name}.set_weights: expected {len(own)} arrays, got {len(weights)} "
                             f"(shapes expected: {[tuple(w.shape) for w in own]})")
        arrays = [np.asarray(getattr(w, "data", w) if isinstance(w, Tensor) else w) for w in weights]
        for i, (target, arr) in enumerate(zip(own, arrays)):
            if tuple(arr.shape) != tuple(target.shape):
                raise ValueError(f"{self.name}.set_weights: weight {i} must have shape {tuple(target.shape)}, "
                                 f"got {tuple(arr.shape)}")
        for target, arr in zip(own, arrays):
            np.copyto(target.data, arr, casting="unsafe")

    def count_params(self) -> int:
        return int(sum(int(np.prod(w.shape)) for w in self.weights))

    @property
    def losses(self) -> list:
        """The regularization penalties of this layer and its sublayers, as scalar Tensors."""
        out = [reg(self._parameters[attr]) for attr, reg in self._regularized]
        for child in self._sublayers():
            if isinstance(child, Layer):
                out.extend(child.losses)
        return out

    def regularization_loss(self):
        """The sum of ``losses`` (0.0 without regularizers); ``fit`` adds it to the training loss."""
        losses = self.losses
        if not losses:
            return None
        total = losses[0]
        for term in losses[1:]:
            total = total + term
        return total

    # ---- config ----------------------------------------------------------------------------------------
    def get_config(self) -> dict:
        return {"name": self.name, "trainable": self._trainable, "dtype": self.dtype}

    @classmethod
    def from_config(cls, config: dict):
        return cls(**config)

    # ---- calling -----------------------------------------------------------------------------------------
    def build(self, input_shape) -> None:
        pass

    def call(self, inputs, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__} does not define call()")

    def forward(self, *args, **kwargs):
        return self.call(*args, **kwargs)

    def compute_mask(self, inputs, mask=None):
        return mask if self.supports_masking else None

    @property
    def input_shape(self):
        return self._inbound_nodes[0].inputs[0].shape if self._inbound_nodes else None

    @property
    def output(self):
        if not self._inbound_nodes:
            raise AttributeError(f"layer {self.name!r} has not been called on a symbolic input yet")
        outs = self._inbound_nodes[0].outputs
        return outs[0] if len(outs) == 1 else outs

    @property
    def output_shape(self):
        out = self.output
        return out.shape if isinstance(out, KerasTensor) else [o.shape for o in out]

    def _takes(self, argument: str) -> bool:
        if self._call_takes is None:
            params = inspect.signature(self.call).parameters
            var_kw = any(p.kind == p.VAR_KEYWORD for p in params.values())
            object.__setattr__(self, "_call_takes", (set(params), var_kw))
        names, _ = self._call_takes
        return argument in names

    def _ensure_built(self, first) -> None:
        if not self.built:
            self.build(_shape_of(first))
            object.__setattr__(self, "built", True)

    def _run(self, args, kwargs, lookup, training=None):
        """Calls ``call`` with ``mask`` (the first input's), per-input masks (``query_mask`` / ``value_mask`` /
        ``key_mask`` for attention) and ``training`` filled in where ``call`` takes them; ``lookup(tensor)`` gives
        a value's mask. Returns (outputs, output mask)."""
        kwargs = dict(kwargs)
        first = args[0] if args else next(iter(kwargs.values()))
        mask = kwargs.get("mask")
        if mask is None:
            mask = map_structure(lambda t: lookup(t) if isinstance(t, Tensor) else None, first)
            if any(m is not None for m in flatten(mask)) and self._takes("mask"):
                kwargs["mask"] = mask
        if self._takes("query_mask"):
            sources = {"query_mask": args[0] if args else kwargs.get("query"),
                       "value_mask": args[1] if len(args) > 1 else kwargs.get("value"),
                       "key_mask": args[2] if len(args) > 2 else kwargs.get("key")}
            for name, source in sources.items():
                if kwargs.get(name) is None and isinstance(source, Tensor) and lookup(source) is not None:
                    kwargs[name] = lookup(source)
        if self._takes("training") and kwargs.get("training") is None:
            kwargs["training"] = (self.training if training is None else bool(training)) and not _inference_depth[0]
        outputs = self.call(*args, **kwargs)
        out_mask = self.compute_mask(first, mask)
        return outputs, out_mask

    def _spread_masks(self, outputs, out_mask) -> list:
        flat = flatten(outputs)
        if isinstance(out_mask, (list, tuple)):
            masks = flatten(out_mask)
            return masks + [None] * (len(flat) - len(masks))
        return [out_mask] + [None] * (len(flat) - 1)

    def __call__(self, *args, **kwargs):
        if _is_symbolic((args, kwargs)):
            return self._symbolic_call(args, kwargs)
        args = map_structure(_to_tensor, args)
        kwargs = {k: map_structure(_to_tensor, v) for k, v in kwargs.items()}
        self._ensure_built(args[0] if args else next(iter(kwargs.values())))
        outputs, out_mask = self._run(args, kwargs, keras_mask)
        for out, m in zip(flatten(outputs), self._spread_masks(outputs, out_mask)):
            _set_keras_mask(out, None if m is None else np.asarray(getattr(m, "data", m)))
        return outputs

    def _symbolic_call(self, args, kwargs):
        first = args[0] if args else next(iter(kwargs.values()))
        self._ensure_built(first)
        runs = []
        for size in (2, 3):
            masks = {}

            def stand_in(t):
                if not isinstance(t, KerasTensor):
                    return t
                value = _stand_in(t, size)
                if t.has_mask:
                    masks[id(value)] = np.ones(value.shape[:2], np.bool_)
                return value

            with _shape_inference():
                s_args = map_structure(stand_in, args)
                s_kwargs = {k: map_structure(stand_in, v) for k, v in kwargs.items()}
                outs, out_mask = self._run(s_args, s_kwargs, lambda t: masks.get(id(t)))
            runs.append((outs, self._spread_masks(outs, out_mask)))
        flat_a, flat_b = flatten(runs[0][0]), flatten(runs[1][0])
        flat_masks = runs[0][1]
        node = Node(self, args, kwargs, [])
        outputs = []
        for i, (a, b) in enumerate(zip(flat_a, flat_b)):
            if not isinstance(a, Tensor):
                raise TypeError(f"{self.name}: call() must return Tensors (or nested lists / tuples of them), "
                                f"got {type(a).__name__}")
            shape = tuple(da if da == db else None for da, db in zip(a.shape, b.shape))
            outputs.append(KerasTensor(shape, a.dtype, node, i, has_mask=flat_masks[i] is not None,
                                       name=f"{self.name}/output_{i}" if len(flat_a) > 1 else self.name))
        node.outputs = outputs
        self._inbound_nodes.append(node)
        it = iter(outputs)
        return map_structure(lambda _: next(it), runs[0][0])

    def __repr__(self) -> str:
        return f"<{type(self).__name__} name={self.name}, built={self.built}>"


def _module_weights(module: Module) -> List[Tensor]:
    """A plain ``nn.Module``'s parameters and persistent buffers in state-dict order."""
    return list(module.state_dict(keep_vars=True).values())


# ---- Input ------------------------------------------------------------------------------------------------
class InputLayer(Layer):
    def __init__(self, shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None,
                 input_shape=None, **kwargs):
        if shape is None and input_shape is not None:
            shape = input_shape
        if batch_shape is not None:
            batch_size, shape = batch_shape[0], tuple(batch_shape[1:])
        if shape is None:
            raise ValueError("Input: pass shape=(...) (without the batch dimension)")
        if isinstance(shape, (int, np.integer)) or shape is None:
            shape = (shape,)
        super().__init__(name=name or unique_name("input_layer"))
        self.dtype = "float32" if dtype is None else np.dtype(dtype).name
        self.batch_shape = (batch_size,) + tuple(None if d is None else int(d) for d in shape)
        self.built = True
        node = Node(self, (), {}, [])
        node.outputs = [KerasTensor(self.batch_shape, self.dtype, node, 0, name=self.name)]
        self._inbound_nodes.append(node)

    def get_config(self):
        return {"batch_shape": list(self.batch_shape), "dtype": self.dtype, "name": self.name}

    @classmethod
    def from_config(cls, config):
        return cls(batch_shape=config["batch_shape"], dtype=config["dtype"], name=config["name"])

    def call(self, inputs):
        return inputs


def Input(shape=None, batch_size=None, dtype=None, sparse=None, batch_shape=None, name=None, tensor=None):
    """A symbolic input: ``shape`` without the batch dimension (``None`` for an unknown length), ``dtype``
    (``"int32"``, ``sk.int32``, ``tf.int32``-style numpy dtypes; float32 by default)."""
    if sparse:
        raise ValueError("Input: sparse inputs are not supported")
    return InputLayer(shape=shape, batch_size=batch_size, dtype=dtype, batch_shape=batch_shape,
                      name=name)._inbound_nodes[0].outputs[0]


# ---- functional Model ---------------------------------------------------------------------------------------
def _graph(inputs: List[KerasTensor], outputs: List[KerasTensor]):
    """The nodes between ``inputs`` and ``outputs`` in an order that computes each before its use."""
    input_ids = {id(t) for t in inputs}
    order, state = [], {}

    def visit(node):
        if state.get(id(node)) == "done":
            return
        if state.get(id(node)) == "active":
            raise ValueError("the layer graph has a cycle")
        state[id(node)] = "active"
        for t in node.inputs:
            if id(t) not in input_ids:
                if isinstance(t.node.layer, InputLayer):
                    raise ValueError(f"Model: output depends on input {t.name!r}, which is not among the model's "
                                     "inputs")
                visit(t.node)
        state[id(node)] = "done"
        order.append(node)

    for t in outputs:
        if not isinstance(t, KerasTensor):
            raise TypeError(f"Model: outputs must be KerasTensors (made by calling layers on Input(...)), "
                            f"got {type(t).__name__}")
        if id(t) not in input_ids:
            visit(t.node)
    return order


class Model(Layer):
    """``Model(inputs, outputs, name=None)``: the functional API (one or several inputs and outputs, as a
    KerasTensor, a list or a dict). ``Model()`` with a ``call`` method of your own subclasses it."""

    def __init__(self, inputs=None, outputs=None, name=None, trainable: bool = True, **kwargs):
        super().__init__(name=name or unique_name("functional" if inputs is not None else _snake(type(self).__name__)),
                         trainable=trainable, **kwargs)
        object.__setattr__(self, "_functional", False)
        if inputs is not None or outputs is not None:
            if inputs is None or outputs is None:
                raise ValueError("Model: pass both inputs= and outputs=")
            self._init_graph(inputs, outputs)

    def _init_graph(self, inputs, outputs) -> None:
        flat_in, flat_out = flatten(inputs), flatten(outputs)
        for t in flat_in:
            if not isinstance(t, KerasTensor) or not isinstance(t.node.layer, InputLayer):
                raise TypeError(f"Model: inputs must be tensors from Input(...), got {t!r}")
        nodes = _graph(flat_in, flat_out)
        layers = [t.node.layer for t in flat_in]
        for node in nodes:
            if node.layer not in layers:
                layers.append(node.layer)
        for name, child in list(self._modules.items()):
            self._modules.pop(name)
        for layer in layers:
            if layer.name in self._modules:
                raise ValueError(f"Model: two different layers are named {layer.name!r}; layer names must be unique")
            self._modules[layer.name] = layer
        object.__setattr__(self, "_functional", True)
        object.__setattr__(self, "_input_structure", inputs)
        object.__setattr__(self, "_output_structure", outputs)
        object.__setattr__(self, "_flat_inputs", flat_in)
        object.__setattr__(self, "_flat_outputs", flat_out)
        object.__setattr__(self, "_nodes", nodes)
        object.__setattr__(self, "built", True)

    @property
    def layers(self) -> list:
        return [m for m in self._modules.values() if isinstance(m, Layer)]

    def get_layer(self, name=None, index=None):
        """The layer called ``name`` (or at position ``index`` of ``layers``)."""
        if index is not None:
            return self.layers[index]
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise ValueError(f"no layer named {name!r} in model {self.name!r}; layers: {[l.name for l in self.layers]}")

    @property
    def inputs(self):
        return list(self._flat_inputs)

    @property
    def outputs(self):
        return list(self._flat_outputs)

    @property
    def input(self):
        return self._input_structure

    @property
    def output(self):
        return self._output_structure

    def __call__(self, *args, **kwargs):
        if getattr(self, "_functional", False) and len(args) > 1 and len(self._flat_inputs) == len(args):
            args = (list(args),)  # fit's model(*inputs) and model(ids, mask) as model([ids, mask])
        return super().__call__(*args, **kwargs)

    def call(self, inputs, training=None, mask=None):
        if not self._functional:
            raise NotImplementedError(f"{type(self).__name__}: a subclassed Model must define call()")
        flat = flatten(inputs) if not isinstance(inputs, dict) else [inputs[t.name] for t in self._flat_inputs]
        if len(flat) != len(self._flat_inputs):
            raise ValueError(f"{self.name}: expected {len(self._flat_inputs)} input(s), got {len(flat)}")
        flat_masks = flatten(mask) if isinstance(mask, (list, tuple)) else [mask] * len(flat)
        values = {}
        for t, value, m in zip(self._flat_inputs, flat, flat_masks):
            if not isinstance(value, Tensor):
                value = Tensor(np.asarray(value))
            if value.dtype != t.dtype:  # Keras casts inputs to the Input's dtype
                value = Tensor(value.data.astype(t.dtype))
            if value.ndim != len(t.shape) or any(d is not None and d != s for d, s in zip(t.shape[1:], value.shape[1:])):
                raise ValueError(f"{self.name}: input {t.name!r} expects shape {t.shape}, got {tuple(value.shape)}")
            values[id(t)] = (value, None if m is None else np.asarray(getattr(m, "data", m)))
        by_value = {id(v): m for v, m in values.values() if m is not None}
        outer = keras_mask

        def lookup(t):
            return by_value[id(t)] if id(t) in by_value else outer(t)

        for node in self._nodes:
            def value_of(x):
                return values[id(x)][0] if isinstance(x, KerasTensor) else x

            args = map_structure(value_of, node.args)
            kwargs = {k: map_structure(value_of, v) for k, v in node.kwargs.items()}
            layer = node.layer
            layer._ensure_built(args[0] if args else next(iter(kwargs.values())))
            outs, out_mask = layer._run(args, kwargs, lookup, training)  # model(x, training=True) reaches every layer
            for kt, value, m in zip(node.outputs, flatten(outs), layer._spread_masks(outs, out_mask)):
                values[id(kt)] = (value, m)
                if m is not None:
                    by_value[id(value)] = m
        return map_structure(lambda t: values[id(t)][0], self._output_structure)

    def compute_mask(self, inputs, mask=None):
        return None

    # ---- Keras conveniences ---------------------------------------------------------------------------------
    def summary(self, line_length=None, print_fn=None) -> None:
        """Prints Keras's table: each layer's name (type), output shape and parameter count, then totals."""
        from .summary import summary_text
        (print_fn or print)(summary_text(self, line_length))

    def get_config(self) -> dict:
        from .saving import functional_config
        return functional_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from .saving import functional_from_config
        return functional_from_config(config, custom_objects)

    def to_json(self, **kwargs) -> str:
        from .saving import model_to_json
        return model_to_json(self, **kwargs)

    def save(self, filepath, overwrite: bool = True) -> None:
        from .saving import save_model
        save_model(self, filepath, overwrite=overwrite)

    def save_weights(self, filepath, overwrite: bool = True) -> None:
        from .saving import save_weights
        save_weights(self, filepath, overwrite=overwrite)

    def load_weights(self, filepath) -> None:
        from .saving import load_weights
        load_weights(self, filepath)

    def compile(self, optimizer="rmsprop", loss=None, metrics=None, **kwargs):
        """Keras's ``compile``: optimizer names take Keras's defaults (``"adam"``, ``"sgd"``, ``"rmsprop"``...)."""
        from . import optimizers
        return super().compile(optimizers.get(optimizer), loss=loss, metrics=metrics)


class Sequential(Model):
    """A stack of layers, each fed the previous one's output. Built on the first call (or at once when the
    first layer is an ``Input`` / ``InputLayer`` or carries ``input_shape=``)."""

    def __init__(self, layers=None, name=None, trainable: bool = True):
        super().__init__(name=name or unique_name("sequential"), trainable=trainable)
        object.__setattr__(self, "_stack", [])
        object.__setattr__(self, "_input_tensor", None)
        for layer in layers or []:
            self.add(layer)

    def add(self, layer) -> None:
        if isinstance(layer, KerasTensor):
            if not isinstance(layer.node.layer, InputLayer):
                raise TypeError("Sequential.add: only Input(...) tensors or layers can be added")
            layer = layer.node.layer
        if not isinstance(layer, Layer):
            raise TypeError(f"Sequential.add: expected a Keras layer, got {type(layer).__name__}")
        if isinstance(layer, InputLayer):
            if self._stack or self._input_tensor is not None:
                raise ValueError("Sequential.add: an InputLayer can only come first")
            object.__setattr__(self, "_input_tensor", layer._inbound_nodes[0].outputs[0])
        else:
            if not self._stack and self._input_tensor is None and layer._input_shape_arg is not None:
                object.__setattr__(self, "_input_tensor", Input(shape=layer._input_shape_arg))
            self._stack.append(layer)
        self._modules[layer.name] = layer
        if self._input_tensor is not None and self._stack:
            self._build_graph(self._input_tensor)

    def pop(self):
        layer = self._stack.pop()
        self._modules.pop(layer.name, None)
        if self._input_tensor is not None and self._stack:
            self._build_graph(self._input_tensor)
        return layer

    def _build_graph(self, input_tensor) -> None:
        x = input_tensor
        for layer in self._stack:
            x = layer(x)
        self._init_graph(input_tensor, x)

    def build(self, input_shape=None) -> None:
        if input_shape is not None and not self._functional:
            self._input_tensor = Input(batch_shape=(None,) + tuple(input_shape)[1:])
            self._build_graph(self._input_tensor)

    def call(self, inputs, training=None, mask=None):
        if not self._functional:
            value = inputs if isinstance(inputs, Tensor) else Tensor(np.asarray(inputs))
            object.__setattr__(self, "_input_tensor",
                               Input(batch_shape=(None,) + tuple(value.shape[1:]), dtype=value.dtype))
            self._build_graph(self._input_tensor)
        return super().call(inputs, training=training, mask=mask)

    def _ensure_built(self, first) -> None:
        object.__setattr__(self, "built", True)

    @property
    def layers(self) -> list:
        return list(self._stack)

    def get_config(self) -> dict:
        from .saving import sequential_config
        return sequential_config(self)

    @classmethod
    def from_config(cls, config, custom_objects=None):
        from .saving import sequential_from_config
        return sequential_from_config(config, custom_objects)


__all__ = ["Input", "InputLayer", "KerasTensor", "Layer", "Model", "Node", "Sequential", "clear_session",
           "keras_mask", "unique_name"]
