"""``seqkernels.keras.losses``: Keras's loss classes (``from_logits=False`` by default: probabilities in)."""
from ..losses import BinaryCrossentropy, Loss, MeanSquaredError, SparseCategoricalCrossentropy, get

__all__ = ["BinaryCrossentropy", "Loss", "MeanSquaredError", "SparseCategoricalCrossentropy", "get"]
