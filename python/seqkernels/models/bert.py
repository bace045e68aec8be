"""BERT (Devlin et al., 2019) with Hugging Face's module and parameter names, so that a Hugging Face BERT
folder (``config.json`` + ``model.safetensors``, or ``pytorch_model.bin`` when torch is installed) loads with
``from_pretrained`` and gives transformers' outputs.

    model = BertModel.from_pretrained(folder)                 # never touches the network
    out = model(input_ids, attention_mask=mask)               # out.last_hidden_state, out.pooler_output
    clf = BertForSequenceClassification.from_pretrained(folder, num_labels=2)
    loss, logits = clf(ids, attention_mask=mask, labels=y)

Self-attention runs on the fused kernel (``functional.scaled_dot_product_attention``) with the padding
mask passed as a (N, 1, 1, L) boolean view, never expanded.
"""
from __future__ import annotations

import dataclasses
import os
import warnings
from collections import namedtuple
from typing import Dict, List, Optional

import numpy as np

from .. import functional as F
from ..nn import Dropout, Embedding, LayerNorm, Linear, Module, ModuleList, init
from ..tensor import Tensor
from .._jsonfile import read_object

BaseModelOutput = namedtuple("BaseModelOutput", ["last_hidden_state", "pooler_output", "attentions"],
                             defaults=(None,))
SequenceClassifierOutput = namedtuple("SequenceClassifierOutput", ["loss", "logits"])
TokenClassifierOutput = namedtuple("TokenClassifierOutput", ["loss", "logits"])
QuestionAnsweringOutput = namedtuple("QuestionAnsweringOutput", ["loss", "start_logits", "end_logits"])


@dataclasses.dataclass
class BertConfig:
    """The fields of a Hugging Face BERT ``config.json`` that the model uses (others are kept in ``extra``)."""

    vocab_size: int = 30522
    hidden_size: int = 768
    num_hidden_layers: int = 12
    num_attention_heads: int = 12
    intermediate_size: int = 3072
    hidden_act: str = "gelu"
    hidden_dropout_prob: float = 0.1
    attention_probs_dropout_prob: float = 0.1
    max_position_embeddings: int = 512
    type_vocab_size: int = 2
    initializer_range: float = 0.02
    layer_norm_eps: float = 1e-12
    pad_token_id: int = 0
    num_labels: int = 2
    classifier_dropout: Optional[float] = None
    problem_type: Optional[str] = None
    extra: Dict = dataclasses.field(default_factory=dict)

    @classmethod
    def from_dict(cls, values: Dict, **overrides) -> "BertConfig":
        values = {**values, **overrides}
        if "num_labels" not in overrides and isinstance(values.get("id2label"), dict):
            values["num_labels"] = len(values["id2label"])
        known = {f.name for f in dataclasses.fields(cls)} - {"extra"}
        config = cls(**{k: v for k, v in values.items() if k in known})
        config.extra = {k: v for k, v in values.items() if k not in known}
        if config.hidden_size % config.num_attention_heads:
            raise ValueError(f"BertConfig: hidden_size ({config.hidden_size}) must be divisible by "
                             f"num_attention_heads ({config.num_attention_heads})")
        if config.extra.get("position_embedding_type", "absolute") != "absolute":
            raise ValueError("BertConfig: only position_embedding_type='absolute' is supported, got "
                             f"{config.extra['position_embedding_type']!r}")
        return config

    @classmethod
    def from_pretrained(cls, folder, **overrides) -> "BertConfig":
        path = os.path.join(os.fspath(folder), "config.json")
        return cls.from_dict(read_object(path), **overrides)

    def to_dict(self) -> Dict:
        values = dataclasses.asdict(self)
        return {**values.pop("extra"), **values}


def _activation(name: str):
    if name == "gelu":
        return F.gelu
    if name in ("gelu_new", "gelu_pytorch_tanh"):
        return lambda x: F.gelu(x, approximate="tanh")
    if name == "relu":
        return lambda x: x.relu()
    raise ValueError(f"BertConfig: hidden_act {name!r} is not supported (gelu, gelu_new, gelu_pytorch_tanh, relu)")


class BertEmbeddings(Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.word_embeddings = Embedding(config.vocab_size, config.hidden_size, padding_idx=config.pad_token_id)
        self.position_embeddings = Embedding(config.max_position_embeddings, config.hidden_size)
        self.token_type_embeddings = Embedding(config.type_vocab_size, config.hidden_size)
        self.LayerNorm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout_prob)
        self.max_positions = config.max_position_embeddings

    def forward(self, input_ids, token_type_ids=None, position_ids=None, inputs_embeds=None):
        length = input_ids.shape[1]
        if length > self.max_positions:
            raise ValueError(f"BertModel: sequences of {length} tokens exceed max_position_embeddings "
                             f"({self.max_positions})")
        if position_ids is None:
            position_ids = np.arange(length, dtype=np.int64)[None]
        if token_type_ids is None:
            token_type_ids = np.zeros(input_ids.shape, dtype=np.int64)
        words = self.word_embeddings(input_ids) if inputs_embeds is None else inputs_embeds
        x = words + self.position_embeddings(position_ids) \
            + self.token_type_embeddings(token_type_ids)
        return self.dropout(self.LayerNorm(x))


class BertSelfAttention(Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.num_heads = config.num_attention_heads
        self.head_dim = config.hidden_size // config.num_attention_heads
        self.query = Linear(config.hidden_size, config.hidden_size)
        self.key = Linear(config.hidden_size, config.hidden_size)
        self.value = Linear(config.hidden_size, config.hidden_size)
        self.dropout_p = config.attention_probs_dropout_prob

    def _heads(self, x):
        n, length, _ = x.shape
        return x.reshape(n, length, self.num_heads, self.head_dim).transpose(1, 2)

    def forward(self, hidden, mask, output_attentions: bool = False):
        """-> (context (N, L, hidden), attention probabilities (N, heads, L, L) or None). With
        ``output_attentions`` the probabilities are formed explicitly (softmax(q k^T / sqrt(d) + mask), no
        attention dropout: for inspection in eval mode); otherwise the fused kernel never forms them."""
        q, k, v = (self._heads(layer(hidden)) for layer in (self.query, self.key, self.value))
        probs = None
        if output_attentions:
            scores = (q @ k.transpose(-2, -1)) * (1.0 / float(np.sqrt(self.head_dim)))
            if mask is not None:
                scores = scores.masked_fill(Tensor(~mask), float(np.finfo(np.float32).min))
            probs = F.softmax(scores, dim=-1)
            out = probs @ v
        else:
            out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask,
                                                 dropout_p=self.dropout_p if self.training else 0.0)
        n, _, length, _ = out.shape
        return out.transpose(1, 2).reshape(n, length, self.num_heads * self.head_dim), probs


class BertSelfOutput(Module):
    """dense, dropout, then LayerNorm of the residual sum (also the shape of ``BertOutput``)."""

    def __init__(self, config: BertConfig, in_features: int):
        super().__init__()
        self.dense = Linear(in_features, config.hidden_size)
        self.LayerNorm = LayerNorm(config.hidden_size, eps=config.layer_norm_eps)
        self.dropout = Dropout(config.hidden_dropout_prob)

    def forward(self, hidden, residual):
        return self.LayerNorm(self.dropout(self.dense(hidden)) + residual)


class BertAttention(Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.self = BertSelfAttention(config)
        self.output = BertSelfOutput(config, config.hidden_size)

    def forward(self, hidden, mask, output_attentions: bool = False):
        context, probs = self.self(hidden, mask, output_attentions)
        return self.output(context, hidden), probs


class BertIntermediate(Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = Linear(config.hidden_size, config.intermediate_size)
        self.activation = _activation(config.hidden_act)

    def forward(self, hidden):
        return self.activation(self.dense(hidden))


class BertLayer(Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.attention = BertAttention(config)
        self.intermediate = BertIntermediate(config)
        self.output = BertSelfOutput(config, config.intermediate_size)

    def forward(self, hidden, mask, output_attentions: bool = False):
        attended, probs = self.attention(hidden, mask, output_attentions)
        return self.output(self.intermediate(attended), attended), probs


class BertEncoder(Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.layer = ModuleList([BertLayer(config) for _ in range(config.num_hidden_layers)])

    def forward(self, hidden, mask, output_attentions: bool = False):
        """-> (last hidden states, one (N, heads, L, L) attention map per layer or None)."""
        maps = []
        for layer in self.layer:
            hidden, probs = layer(hidden, mask, output_attentions)
            maps.append(probs)
        return hidden, (tuple(maps) if output_attentions else None)


class BertPooler(Module):
    def __init__(self, config: BertConfig):
        super().__init__()
        self.dense = Linear(config.hidden_size, config.hidden_size)

    def forward(self, hidden):
        return self.dense(hidden[:, 0]).tanh()


def _ids(x, name: str) -> Optional[np.ndarray]:
    if x is None:
        return None
    array = x.data if isinstance(x, Tensor) else np.asarray(x)
    if array.dtype.kind not in "iu":
        raise TypeError(f"BertModel: argument '{name}' must hold integers, got {array.dtype}")
    return array


class BertPreTrainedModel(Module):
    """Weight initialisation and ``from_pretrained`` shared by BertModel and the task heads."""

    # Checkpoint entries that are not parameters (HF's registered buffers) and are skipped silently.
    _ignored_checkpoint_keys = ("embeddings.position_ids",)

    def __init__(self, config: BertConfig):
        super().__init__()
        if not isinstance(config, BertConfig):
            raise TypeError(f"{type(self).__name__}: argument 'config' must be a BertConfig, got "
                            f"{type(config).__name__}")
        self.config = config

    def _init_weights(self, root: Optional[Module] = None) -> None:
        """Hugging Face's init of ``root`` (default: the whole model): N(0, initializer_range) for Linear and
        Embedding weights, zero biases and padding rows; LayerNorms start at (1, 0) already."""
        std = self.config.initializer_range
        for module in (self if root is None else root).modules():
            if isinstance(module, (Linear, Embedding)):
                init.normal_(module.weight, 0.0, std)
            if isinstance(module, Linear) and module.bias is not None:
                init.zeros_(module.bias)
            if isinstance(module, Embedding) and module.padding_idx is not None:
                module.weight.data[module.padding_idx] = 0.0

    @classmethod
    def from_pretrained(cls, folder, output_loading_info: bool = False, **config_overrides):
        """Builds the model from ``folder/config.json`` (``config_overrides`` replace its fields, e.g.
        ``num_labels=3``) and loads ``folder/model.safetensors`` (or ``pytorch_model.bin`` when torch is
        installed). Checkpoint keys may or may not carry the ``bert.`` prefix. Missing and unexpected keys are
        reported with a warning and in ``model.loading_info`` (also returned with ``output_loading_info``)."""
        folder = os.fspath(folder)
        if not os.path.isdir(folder):
            raise FileNotFoundError(f"{cls.__name__}.from_pretrained: '{folder}' is not a folder (models are "
                                    "only read from local folders)")
        model = cls(BertConfig.from_pretrained(folder, **config_overrides))
        info = model._load_checkpoint(_read_checkpoint(folder))
        model.loading_info = info
        if info["missing_keys"] or info["unexpected_keys"]:
            warnings.warn(f"{cls.__name__}.from_pretrained('{folder}'): missing keys (newly initialised) "
                          f"{info['missing_keys']}; unexpected keys (ignored) {info['unexpected_keys']}",
                          stacklevel=2)
        model.eval()
        return (model, info) if output_loading_info else model

    def _load_checkpoint(self, checkpoint: Dict[str, np.ndarray]) -> Dict[str, List[str]]:
        expected = set(self.state_dict().keys())
        renamed, unexpected = {}, []
        for key, value in checkpoint.items():
            key = key.replace("LayerNorm.gamma", "LayerNorm.weight").replace("LayerNorm.beta", "LayerNorm.bias")
            bare = key[len("bert."):] if key.startswith("bert.") else key
            target = next((k for k in (key, "bert." + bare, bare) if k in expected), None)
            if target is not None:
                renamed[target] = value
            elif bare not in self._ignored_checkpoint_keys:
                unexpected.append(key)
        missing = sorted(expected - set(renamed))
        self.load_state_dict(renamed, strict=False)
        return {"missing_keys": missing, "unexpected_keys": unexpected}


def _read_checkpoint(folder: str) -> Dict[str, np.ndarray]:
    safetensors_path = os.path.join(folder, "model.safetensors")
    if os.path.exists(safetensors_path):
        from ..io import load

        return load(safetensors_path)
    bin_path = os.path.join(folder, "pytorch_model.bin")
    if os.path.exists(bin_path):
        try:
            import torch
        except ImportError:
            raise ImportError(f"from_pretrained: '{folder}' holds only pytorch_model.bin, which needs torch to "
                              "read; install torch or convert the weights to model.safetensors") from None
        state = torch.load(bin_path, map_location="cpu", weights_only=True)
        return {k: v.detach().float().numpy() if v.is_floating_point() else v.numpy() for k, v in state.items()}
    raise FileNotFoundError(f"from_pretrained: '{folder}' has neither model.safetensors nor pytorch_model.bin")


class BertModel(BertPreTrainedModel):
    """Embeddings, the encoder, and (``add_pooling_layer``) the pooler: tanh(dense(hidden of [CLS]))."""

    def __init__(self, config: BertConfig, add_pooling_layer: bool = True):
        super().__init__(config)
        self.embeddings = BertEmbeddings(config)
        self.encoder = BertEncoder(config)
        self.pooler = BertPooler(config) if add_pooling_layer else None
        self._init_weights()

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None, inputs_embeds=None,
                output_attentions: bool = False) -> BaseModelOutput:
        """input_ids (N, L); attention_mask (N, L) with 1 for tokens and 0 for padding; returns
        last_hidden_state (N, L, hidden), pooler_output (N, hidden) (None without a pooler) and, with
        ``output_attentions``, each layer's attention probabilities (N, heads, L, L) as transformers.
        ``inputs_embeds`` (N, L, hidden) replaces the word embeddings of ``input_ids`` (whose shape still
        gives the positions and token types), e.g. to take gradients with respect to them."""
        ids = _ids(input_ids, "input_ids")
        if ids is None or ids.ndim != 2:
            raise ValueError(f"BertModel: argument 'input_ids' must be (batch, length), got "
                             f"{None if ids is None else ids.shape}")
        mask = None
        if attention_mask is not None:
            mask = attention_mask.data if isinstance(attention_mask, Tensor) else np.asarray(attention_mask)
            if mask.shape != ids.shape:
                raise ValueError(f"BertModel: argument 'attention_mask' must have the shape of input_ids "
                                 f"{ids.shape}, got {mask.shape}")
            mask = (mask != 0)[:, None, None, :]  # (N, 1, 1, L): True = attend, broadcast over heads and rows
        hidden = self.embeddings(ids, _ids(token_type_ids, "token_type_ids"), _ids(position_ids, "position_ids"),
                                 inputs_embeds)
        hidden, maps = self.encoder(hidden, mask, output_attentions)
        return BaseModelOutput(hidden, None if self.pooler is None else self.pooler(hidden), maps)


def _classifier_dropout(config: BertConfig) -> float:
    return config.hidden_dropout_prob if config.classifier_dropout is None else config.classifier_dropout


def _as_labels(labels) -> Tensor:
    return labels if isinstance(labels, Tensor) else Tensor(np.asarray(labels))


class _BertWithClassifier(BertPreTrainedModel):
    """BertModel (with or without its pooler), dropout, and ``classifier`` (hidden -> num_labels)."""

    def __init__(self, config: BertConfig, add_pooling_layer: bool):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=add_pooling_layer)
        self.dropout = Dropout(_classifier_dropout(config))
        self.classifier = Linear(config.hidden_size, config.num_labels)
        self._init_weights(self.classifier)


class BertForSequenceClassification(_BertWithClassifier):
    """The classifier over BertModel's pooled output. With ``labels``: the cross-entropy loss (num_labels > 1)
    or the mean squared error (num_labels == 1, regression)."""

    def __init__(self, config: BertConfig):
        super().__init__(config, add_pooling_layer=True)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None, labels=None):
        pooled = self.bert(input_ids, attention_mask, token_type_ids, position_ids).pooler_output
        logits = self.classifier(self.dropout(pooled))
        loss = None
        if labels is not None:
            labels = _as_labels(labels)
            if self.num_labels == 1:
                loss = F.mse_loss(logits.reshape(-1), labels.reshape(-1).float())
            else:
                loss = F.cross_entropy(logits, labels)
        return SequenceClassifierOutput(loss, logits)


class BertForTokenClassification(_BertWithClassifier):
    """The classifier on every token of BertModel's hidden states (no pooler); labels of -100 are ignored."""

    def __init__(self, config: BertConfig):
        super().__init__(config, add_pooling_layer=False)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None, labels=None):
        hidden = self.bert(input_ids, attention_mask, token_type_ids, position_ids).last_hidden_state
        logits = self.classifier(self.dropout(hidden))
        loss = None
        if labels is not None:
            loss = F.cross_entropy(logits.reshape(-1, self.num_labels), _as_labels(labels).reshape(-1),
                                   ignore_index=-100)
        return TokenClassifierOutput(loss, logits)


class BertForQuestionAnswering(BertPreTrainedModel):
    """Span extraction: ``qa_outputs`` (hidden -> 2) gives start and end logits per token. With
    ``start_positions`` and ``end_positions``: the mean of the two cross-entropies; positions outside the
    sequence are clamped to L and ignored (as transformers)."""

    def __init__(self, config: BertConfig):
        super().__init__(config)
        self.num_labels = config.num_labels
        self.bert = BertModel(config, add_pooling_layer=False)
        self.qa_outputs = Linear(config.hidden_size, 2)
        self._init_weights(self.qa_outputs)

    def forward(self, input_ids, attention_mask=None, token_type_ids=None, position_ids=None,
                start_positions=None, end_positions=None):
        hidden = self.bert(input_ids, attention_mask, token_type_ids, position_ids).last_hidden_state
        start_logits, end_logits = (t.reshape(t.shape[:2]) for t in self.qa_outputs(hidden).split(1, dim=-1))
        loss = None
        if start_positions is not None and end_positions is not None:
            length = start_logits.shape[1]
            start, end = (np.clip(_ids(p, name).reshape(-1), 0, length).astype(np.int64)
                          for p, name in ((start_positions, "start_positions"), (end_positions, "end_positions")))
            loss = (F.cross_entropy(start_logits, Tensor(start), ignore_index=length)
                    + F.cross_entropy(end_logits, Tensor(end), ignore_index=length)) / 2
        return QuestionAnsweringOutput(loss, start_logits, end_logits)
