"""``Model.summary()``: Keras's table (layer name and type, output shape, parameter count, and for graphs that are
not a simple chain, the layers each one is connected to), then the total, trainable and non-trainable counts."""
from __future__ import annotations

import numpy as np

from .engine import InputLayer, KerasTensor, flatten


def _shape_text(layer) -> str:
    if isinstance(layer, InputLayer):
        return str(tuple(layer.batch_shape))
    if not layer._inbound_nodes:
        return "?"
    outs = layer._inbound_nodes[-1].outputs
    shapes = [str(t.shape) for t in outs]
    return shapes[0] if len(shapes) == 1 else "[" + ", ".join(shapes) + "]"


def _size_text(count: int) -> str:
    size = count * 4.0
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024


def summary_text(model, line_length=None) -> str:
    layers = model.layers
    if not getattr(model, "_functional", False):
        rows = [(f"{l.name} ({type(l).__name__})", "?", l.count_params(), "") for l in layers]
        chain = True
    else:
        chain = all(len(node.inputs) <= 1 for node in model._nodes) and len(model._flat_inputs) == 1
        rows = []
        for layer in layers:
            connected = []
            for node in layer._inbound_nodes:
                if node in model._nodes:
                    connected += [f"{t.node.layer.name}[{t.node.layer._inbound_nodes.index(t.node)}][{t.index}]"
                                  for t in node.inputs]
            rows.append((f"{layer.name} ({type(layer).__name__})", _shape_text(layer), layer.count_params(),
                         ", ".join(connected)))
    widths = [34, 26, 12] if chain else [30, 24, 12, 30]
    if line_length:
        widths = [max(10, int(w * line_length / sum(widths))) for w in widths]
    headers = ["Layer (type)", "Output Shape", "Param #"] + ([] if chain else ["Connected to"])
    total = sum(widths)

    def line(cells):
        return "".join(str(c).ljust(w - 1)[:w - 1] + " " for c, w in zip(cells, widths)).rstrip()

    out = [f'Model: "{model.name}"', "_" * total, line(headers), "=" * total]
    for i, row in enumerate(rows):
        out.append(line(row[:len(widths)]))
        if i + 1 < len(rows):
            out.append("_" * total if not chain else "")
    weights = model.weights
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    count = sum(int(np.prod(w.shape)) for w in weights)
    out += ["=" * total, f"Total params: {count:,} ({_size_text(count)})",
            f"Trainable params: {trainable:,} ({_size_text(trainable)})",
            f"Non-trainable params: {count - trainable:,} ({_size_text(count - trainable)})", "_" * total]
    return "\n".join(l for l in out if l != "" or chain)


__all__ = ["summary_text"]
del KerasTensor, flatten
