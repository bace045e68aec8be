"""Reading JSON that a user hands us (config files, tokenizer files, serialized tokenizers) with the promised
errors: a file that is not the JSON object expected raises ValueError naming the file, never RecursionError
(hostile nesting), UnicodeDecodeError, KeyError or AttributeError from deeper in."""
from __future__ import annotations

import json


def loads_object(text, source: str) -> dict:
    """``json.loads(text)``, which must be a JSON object; ``source`` names it in the error."""
    try:
        value = json.loads(text)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
        raise ValueError(f"{source} is not valid JSON: {type(exc).__name__}: {exc}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{source} must hold a JSON object, got {type(value).__name__}")
    return value


def read_object(path: str) -> dict:
    """The JSON object in the file at ``path`` (OSError from opening it names the file)."""
    with open(path, "rb") as f:
        return loads_object(f.read(), f"'{path}'")
