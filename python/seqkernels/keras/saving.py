"""Saving Keras models: ``model.save("m.keras")`` / ``load_model("m.keras")``, ``save_weights`` / ``load_weights``.

A ``.keras`` file here is a zip archive (as Keras's) holding ``config.json`` — the architecture: every layer's
class and ``get_config()``, and for a functional model the recorded layer calls in the order they run — and
``model.weights.safetensors``, the weights in ``get_weights`` order under ``{index}/{state-dict name}`` keys
(``0002/dense.kernel``); ``load_weights`` matches them by position and shape, as Keras does. Files are written to a temporary name and renamed into place, so an interrupted
save leaves any earlier file intact. The optimizer's state is not saved (compile again after loading). A
``Lambda`` layer's function is not serialised: pass it back with ``custom_objects={"name": fn}``.
"""
from __future__ import annotations

import inspect
import io as _io
import json
import os
import tempfile
import zipfile

import numpy as np

from ..io import load as _load_safetensors
from ..io import save as _save_safetensors
from .engine import InputLayer, KerasTensor, Layer, Model, Sequential, flatten

FORMAT = "seqkernels.keras/1"


def _registry(custom_objects=None) -> dict:
    from . import layers as layers_module
    from .bert import BertModel
    table = {name: getattr(layers_module, name) for name in layers_module.__all__
             if isinstance(getattr(layers_module, name), type)}
    table.update(Model=Model, Functional=Model, Sequential=Sequential, InputLayer=InputLayer, BertModel=BertModel,
                 TFBertModel=BertModel)
    table.update(custom_objects or {})
    return table


def serialize_layer(layer: Layer, strip_prefix: str = "") -> dict:
    config = layer.get_config()
    if strip_prefix and config.get("name", "").startswith(strip_prefix):
        config["name"] = config["name"][len(strip_prefix):]
    return {"class_name": type(layer).__name__, "config": config}


def deserialize_layer(entry: dict, custom_objects=None) -> Layer:
    table = _registry(custom_objects)
    name = entry["class_name"]
    if name not in table:
        raise ValueError(f"load_model: unknown layer class {name!r}; pass it in custom_objects={{{name!r}: cls}}")
    cls, config = table[name], dict(entry["config"])
    if cls.__name__ == "Lambda" or name == "Lambda":
        fn_name = config.pop("function")
        if fn_name not in (custom_objects or {}):
            raise ValueError(f"load_model: Lambda layer {config.get('name')!r} wraps {fn_name!r}; pass the function "
                             f"in custom_objects={{{fn_name!r}: fn}}")
        return cls(custom_objects[fn_name], **config)
    if "custom_objects" in inspect.signature(cls.from_config).parameters:
        return cls.from_config(config, custom_objects)
    return cls.from_config(config)


# ---- architectures --------------------------------------------------------------------------------------------
def _encode(value, refs):
    if isinstance(value, KerasTensor):
        return {"__keras_tensor__": refs[id(value)]}
    if isinstance(value, (list, tuple)):
        return [_encode(v, refs) for v in value]
    if isinstance(value, dict):
        return {k: _encode(v, refs) for k, v in value.items()}
    if isinstance(value, np.generic):
        return value.item()
    json.dumps(value)  # raises for what cannot be saved
    return value


def _decode(value, tensors):
    if isinstance(value, dict) and "__keras_tensor__" in value:
        return tensors[tuple(value["__keras_tensor__"])]
    if isinstance(value, list):
        return [_decode(v, tensors) for v in value]
    if isinstance(value, dict):
        return {k: _decode(v, tensors) for k, v in value.items()}
    return value


def functional_config(model: Model) -> dict:
    refs = {}
    for i, t in enumerate(model._flat_inputs):
        refs[id(t)] = [t.node.layer.name, -1, 0]
    calls = []
    for n, node in enumerate(model._nodes):
        calls.append({"layer": node.layer.name, "args": _encode(list(node.args), refs),
                      "kwargs": _encode(node.kwargs, refs)})
        for t in node.outputs:
            refs[id(t)] = [node.layer.name, n, t.index]
    return {"name": model.name, "layers": [serialize_layer(l) for l in model.layers], "calls": calls,
            "inputs": _encode(model._input_structure, refs), "outputs": _encode(model._output_structure, refs)}


def functional_from_config(config: dict, custom_objects=None) -> Model:
    layers = {}
    tensors = {}
    for entry in config["layers"]:
        layer = deserialize_layer(entry, custom_objects)
        layers[layer.name] = layer
        if isinstance(layer, InputLayer):
            tensors[(layer.name, -1, 0)] = layer._inbound_nodes[0].outputs[0]
    for n, call in enumerate(config["calls"]):
        layer = layers[call["layer"]]
        outputs = layer(*_decode(call["args"], tensors), **_decode(call["kwargs"], tensors))
        for t in flatten(outputs):
            tensors[(layer.name, n, t.index)] = t
    return Model(_decode(config["inputs"], tensors), _decode(config["outputs"], tensors), name=config["name"])


def sequential_config(model: Sequential) -> dict:
    config = {"name": model.name, "layers": [serialize_layer(l) for l in model.layers]}
    if model._input_tensor is not None:
        t = model._input_tensor
        config["input"] = {"batch_shape": list(t.shape), "dtype": t.dtype.name}
    return config


def sequential_from_config(config: dict, custom_objects=None) -> Sequential:
    model = Sequential(name=config["name"])
    if "input" in config:
        from .engine import Input
        model.add(Input(batch_shape=tuple(config["input"]["batch_shape"]), dtype=config["input"]["dtype"]))
    for entry in config["layers"]:
        model.add(deserialize_layer(entry, custom_objects))
    return model


def model_to_json(model: Model, **kwargs) -> str:
    return json.dumps({"format": FORMAT, "class_name": "Sequential" if isinstance(model, Sequential) else
                       ("Functional" if model._functional else type(model).__name__), "config": model.get_config()},
                      **kwargs)


def model_from_json(text: str, custom_objects=None) -> Model:
    spec = json.loads(text)
    return _from_spec(spec, custom_objects)


def _from_spec(spec: dict, custom_objects=None) -> Model:
    name = spec["class_name"]
    if name == "Sequential":
        return sequential_from_config(spec["config"], custom_objects)
    if name == "Functional":
        return functional_from_config(spec["config"], custom_objects)
    table = _registry(custom_objects)
    if name not in table:
        raise ValueError(f"load_model: unknown model class {name!r}; pass it in custom_objects")
    return table[name].from_config(spec["config"])


# ---- files ------------------------------------------------------------------------------------------------------
def _atomic_write(path: str, data: bytes, overwrite: bool) -> None:
    path = os.fspath(path)
    if not overwrite and os.path.exists(path):
        raise FileExistsError(f"{path} exists and overwrite=False")
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(prefix=".tmp-", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def _weights_bytes(model: Model) -> bytes:
    """``model.weights`` in order (Keras's ``get_weights`` order) under ``{index:04d}/{layer}/{weight}`` names."""
    arrays = {}
    for i, (name, w) in enumerate(_named_weights(model)):
        arrays[f"{i:04d}/{name}"] = w.data
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "w.safetensors")
        _save_safetensors(arrays, path, metadata={"format": FORMAT})
        with open(path, "rb") as f:
            return f.read()


def _named_weights(model: Model):
    """(state-dict name, weight) for every weight in ``model.weights`` order."""
    names = {id(t): k for k, t in model.state_dict(keep_vars=True).items()}
    return [(names.get(id(w), "weight"), w) for w in model.weights]


def _load_weights_bytes(model: Model, data: bytes, source: str) -> None:
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "w.safetensors")
        with open(path, "wb") as f:
            f.write(data)
        state = _load_safetensors(path)
    arrays = [state[k] for k in sorted(state)]
    own = model.weights
    problem = None
    if len(arrays) != len(own):
        problem = f"the file holds {len(arrays)} weights, the model has {len(own)}"
    else:
        for (key, arr), w in zip(sorted(state.items()), own):
            if tuple(arr.shape) != tuple(w.shape):
                problem = f"{key} has shape {tuple(arr.shape)}, the model's weight has {tuple(w.shape)}"
                break
    if problem:
        raise ValueError(f"{source}: the weights do not fit model {model.name!r}: {problem}")
    model.set_weights(arrays)


def save_model(model: Model, filepath, overwrite: bool = True) -> None:
    """Writes the architecture (``config.json``) and the weights (``model.weights.safetensors``) into one zip file."""
    if not model.built or (not model._functional and not isinstance(model, Sequential)):
        raise ValueError("save: only functional and Sequential models can be saved whole (use save_weights for "
                         "a subclassed model)")
    buffer = _io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as z:
        z.writestr("metadata.json", json.dumps({"format": FORMAT}))
        z.writestr("config.json", model_to_json(model, indent=1))
        z.writestr("model.weights.safetensors", _weights_bytes(model))
    _atomic_write(filepath, buffer.getvalue(), overwrite)


def load_model(filepath, custom_objects=None, compile: bool = True, safe_mode: bool = True) -> Model:
    """A model saved by ``model.save(filepath)``: rebuilt from its config, with its weights (not compiled)."""
    filepath = os.fspath(filepath)
    if not zipfile.is_zipfile(filepath):
        raise ValueError(f"load_model: {filepath} is not a model saved by model.save (a zip archive)")
    with zipfile.ZipFile(filepath) as z:
        names = set(z.namelist())
        if not {"config.json", "model.weights.safetensors"} <= names:
            raise ValueError(f"load_model: {filepath} lacks config.json or model.weights.safetensors")
        model = model_from_json(z.read("config.json").decode("utf-8"), custom_objects)
        _load_weights_bytes(model, z.read("model.weights.safetensors"), filepath)
    return model


def save_weights(model: Model, filepath, overwrite: bool = True) -> None:
    """The weights alone, as a safetensors file (``.weights.safetensors`` by convention)."""
    _atomic_write(filepath, _weights_bytes(model), overwrite)


def load_weights(model: Model, filepath) -> None:
    with open(os.fspath(filepath), "rb") as f:
        _load_weights_bytes(model, f.read(), os.fspath(filepath))
