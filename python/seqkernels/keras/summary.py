"""``Model.summary()``: Keras 3's table — each layer's name (type), output shape and parameter count (and, for a
graph that is not a single chain, the layers it is connected to) — then the total, trainable and non-trainable
parameter counts with their float32 sizes."""
from __future__ import annotations

import textwrap

import numpy as np

from .engine import InputLayer


def _shape_text(layer) -> str:
    if isinstance(layer, InputLayer):
        return str(tuple(layer.batch_shape))
    if not layer._inbound_nodes:
        return "?"
    shapes = [str(t.shape) for t in layer._inbound_nodes[-1].outputs]
    return shapes[0] if len(shapes) == 1 else "[" + ", ".join(shapes) + "]"


def _size_text(count: int) -> str:
    size = count * 4.0
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.2f} {unit}"
        size /= 1024


def _rows(model):
    chain = not getattr(model, "_functional", False) or (
        len(model._flat_inputs) == 1 and all(len(node.inputs) <= 1 for node in model._nodes))
    rows = []
    for layer in model.layers:
        row = [f"{layer.name} ({type(layer).__name__})", _shape_text(layer) if model._functional else "?",
               f"{layer.count_params():,}"]
        if not chain:
            connected = []
            for node in layer._inbound_nodes:
                if node in model._nodes:
                    connected += [f"{t.node.layer.name}[{t.node.layer._inbound_nodes.index(t.node)}][{t.index}]"
                                  for t in node.inputs]
            row.append(", ".join(connected) or "-")
        rows.append(row)
    return chain, rows


def summary_text(model, line_length=None) -> str:
    chain, rows = _rows(model)
    widths = [31, 22, 13] if chain else [25, 18, 11, 20]
    if line_length:
        scale = (line_length - 3 * len(widths) - 1) / sum(widths)
        widths = [max(8, int(w * scale)) for w in widths]
    headers = ["Layer (type)", "Output Shape", "Param #"] + ([] if chain else ["Connected to"])
    right = {2}

    def cells(texts, left, mid, end):
        wrapped = [textwrap.wrap(t, w, break_long_words=True, break_on_hyphens=False) or [""]
                   for t, w in zip(texts, widths)]
        out = []
        for k in range(max(len(w) for w in wrapped)):
            parts = []
            for i, (w, lines) in enumerate(zip(widths, wrapped)):
                text = lines[k] if k < len(lines) else ""
                parts.append(" " + (text.rjust(w) if i in right else text.ljust(w)) + " ")
            out.append(left + mid.join(parts) + end)
        return out

    def rule(left, mid, end, fill):
        return left + mid.join(fill * (w + 2) for w in widths) + end

    lines = [f'Model: "{model.name}"', rule("┏", "┳", "┓", "━")]
    lines += cells(headers, "┃", "┃", "┃")
    lines.append(rule("┡", "╇", "┩", "━"))
    for i, row in enumerate(rows):
        lines += cells(row, "│", "│", "│")
        lines.append(rule("├", "┼", "┤", "─") if i + 1 < len(rows) else rule("└", "┴", "┘", "─"))
    count = sum(int(np.prod(w.shape)) for w in model.weights)
    trainable = sum(int(np.prod(w.shape)) for w in model.trainable_weights)
    lines += [f" Total params: {count:,} ({_size_text(count)})",
              f" Trainable params: {trainable:,} ({_size_text(trainable)})",
              f" Non-trainable params: {count - trainable:,} ({_size_text(count - trainable)})"]
    return "\n".join(lines)


__all__ = ["summary_text"]
