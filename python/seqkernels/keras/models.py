"""``seqkernels.keras.models``: Model, Sequential, load_model, model_from_json, clone_model."""
from .engine import Model, Sequential
from .saving import load_model, model_from_json


def clone_model(model):
    """A model of the same architecture with freshly initialised weights."""
    return model_from_json(model.to_json())


__all__ = ["Model", "Sequential", "clone_model", "load_model", "model_from_json"]
