"""``seqkernels.keras.preprocessing``: ``text.Tokenizer`` and ``sequence.pad_sequences`` (Keras's, option for option)."""
from . import sequence, text
from .sequence import pad_sequences
from .text import Tokenizer

__all__ = ["Tokenizer", "pad_sequences", "sequence", "text"]
