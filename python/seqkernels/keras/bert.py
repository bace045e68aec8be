"""A pretrained BERT as a Keras layer, as the seed's ``TFBertModel.from_pretrained(...)``.

``bert = BertModel.from_pretrained(folder)`` (a local Hugging Face folder: config.json + model.safetensors) is
called on symbolic ``input_ids`` and ``attention_mask`` (``token_type_ids`` optional) and returns
``(last_hidden_state (batch, steps, hidden), pooler_output (batch, hidden))`` — a named tuple, so the seed's
``outputs[1]`` and ``outputs.pooler_output`` both work. Its weights train with the model (``trainable=False``
freezes them); dropout follows the model's training mode.
"""
from __future__ import annotations

import os
from collections import namedtuple

import numpy as np

from ..tensor import Tensor
from .engine import Layer

BertOutput = namedtuple("BertOutput", ["last_hidden_state", "pooler_output"])


class BertModel(Layer):
    def __init__(self, bert=None, folder=None, name=None, trainable=True, **kwargs):
        super().__init__(name=name, trainable=trainable, **kwargs)
        from ..models.bert import BertModel as _Bert
        if bert is None:
            if folder is None:
                raise ValueError("BertModel: use BertModel.from_pretrained(folder)")
            bert = _Bert.from_pretrained(folder)
        if not isinstance(bert, _Bert):
            raise TypeError(f"BertModel: expected a seqkernels.models.bert.BertModel, got {type(bert).__name__}")
        self.folder = None if folder is None else os.fspath(folder)
        self.bert = bert
        self.built = True
        if not trainable:
            self.trainable = False

    @classmethod
    def from_pretrained(cls, folder, name=None, trainable=True, **kwargs):
        if not os.path.isdir(os.fspath(folder)):
            raise ValueError(f"BertModel.from_pretrained: {folder!r} is not a folder (a local Hugging Face BERT "
                             "folder with config.json and model.safetensors; nothing is downloaded)")
        return cls(folder=folder, name=name, trainable=trainable, **kwargs)

    @property
    def config(self):
        return self.bert.config

    def call(self, input_ids, attention_mask=None, token_type_ids=None, training=None):
        module = self.bert
        was_training = module.training
        module.train(bool(training))
        try:
            ids = input_ids if input_ids.dtype.kind in "iu" else Tensor(np.asarray(input_ids.data, np.int64))
            out = module(ids, attention_mask=attention_mask, token_type_ids=token_type_ids)
        finally:
            module.train(was_training)
        return BertOutput(out.last_hidden_state, out.pooler_output)

    def compute_mask(self, inputs, mask=None):
        return None

    def get_config(self):
        if self.folder is None:
            raise ValueError(f"{self.name}: only a BertModel made by from_pretrained(folder) can be saved whole")
        return {**super().get_config(), "folder": self.folder}


TFBertModel = BertModel

__all__ = ["BertModel", "BertOutput", "TFBertModel"]
