"""Keras-style preprocessing: ``text.Tokenizer`` and ``sequence.pad_sequences``."""
