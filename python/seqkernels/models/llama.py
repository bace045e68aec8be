"""Llama-architecture causal language models (Llama 2/3-style, SmolLM2, ...) for inference on our kernels.

``LlamaForCausalLM.from_gguf(path)`` reads a GGUF file with the ``gguf`` package: its tensors stay
memory-mapped (Q4_0 / Q4_1 / Q8_0 weights are multiplied in their packed blocks by ``quant_matmul``; F32
norms are read in place), the configuration and the tokenizer come from its metadata.
``LlamaForCausalLM.from_pretrained(folder)`` reads a Hugging Face folder (config.json + safetensors,
float32 products on our GEMM). ``forward(ids, past_key_values=None, use_cache=True)`` returns the logits
and the key/value cache, ``generate`` decodes greedily or samples, streaming text to a callback.

Every projection of a layer that reads the same input runs as one product (q, k and v stacked; gate and up
stacked), rotary embedding rotates q and k in place in that product's output, the attention kernel reads
the cache in place. Arrays are numpy float32; this is an inference model (no autograd).
"""
from __future__ import annotations

import json
import os
import warnings
from dataclasses import asdict, dataclass, field
from typing import Callable, Dict, List, Optional, Sequence, Union

import numpy as np

from .. import _C
from ..ops import quantized as Q
from ..ops.attention_cache import cached_attention
from .llama_tokenizer import LlamaTokenizer

_F32 = np.float32


@dataclass
class LlamaConfig:
    vocab_size: int = 32000
    hidden_size: int = 4096
    intermediate_size: int = 11008
    num_hidden_layers: int = 32
    num_attention_heads: int = 32
    num_key_value_heads: Optional[int] = None
    head_dim: Optional[int] = None
    rms_norm_eps: float = 1e-6
    rope_theta: float = 10000.0
    max_position_embeddings: int = 2048
    tie_word_embeddings: bool = False
    bos_token_id: Optional[int] = 1
    eos_token_id: Optional[int] = 2
    # GGUF stores q/k permuted for the interleaved (GPT-J) rotary layout; Hugging Face uses half-split.
    rope_interleaved: bool = False
    extra: Dict = field(default_factory=dict, repr=False)

    def __post_init__(self):
        if self.num_key_value_heads is None:
            self.num_key_value_heads = self.num_attention_heads
        if self.head_dim is None:
            self.head_dim = self.hidden_size // self.num_attention_heads
        if self.num_attention_heads % self.num_key_value_heads:
            raise ValueError(f"LlamaConfig: num_attention_heads {self.num_attention_heads} is not a multiple of "
                             f"num_key_value_heads {self.num_key_value_heads}")

    @classmethod
    def from_dict(cls, values: Dict) -> "LlamaConfig":
        names = {f for f in cls.__dataclass_fields__ if f != "extra"}
        known = {k: v for k, v in values.items() if k in names}
        scaling = values.get("rope_scaling") or (values.get("rope_parameters") or {})
        kind = scaling.get("rope_type", scaling.get("type", "default")) if isinstance(scaling, dict) else "default"
        if kind not in ("default", None):
            raise ValueError(f"LlamaConfig: rope scaling {kind!r} is not supported")
        if "rope_theta" not in known and isinstance(scaling, dict) and "rope_theta" in scaling:
            known["rope_theta"] = scaling["rope_theta"]
        eos = known.get("eos_token_id")
        if isinstance(eos, list):
            known["eos_token_id"] = eos[0] if eos else None
            values = {**values, "eos_token_ids": eos}
        return cls(**known, extra={k: v for k, v in values.items() if k not in names})

    def to_dict(self) -> Dict:
        d = asdict(self)
        return {**d.pop("extra"), **d}


class LlamaCache:
    """Keys and values of every layer, ``(batch, kv_heads, capacity, head_dim)`` per layer, grown by half its
    capacity at a time (amortised O(1) per position, at most a third of it unused); ``forward`` appends to it
    in place. ``get_seq_length()`` as in Hugging Face's caches."""

    def __init__(self, config: LlamaConfig, batch: int, capacity: int = 256):
        self._shape = (batch, config.num_key_value_heads, config.head_dim)
        self.keys = [self._empty(capacity) for _ in range(config.num_hidden_layers)]
        self.values = [self._empty(capacity) for _ in range(config.num_hidden_layers)]
        self.length = 0

    def _empty(self, capacity: int) -> np.ndarray:
        b, h, d = self._shape
        return np.empty((b, h, capacity, d), _F32)

    @property
    def batch(self) -> int:
        return self._shape[0]

    def get_seq_length(self) -> int:
        return self.length

    def reserve(self, length: int) -> None:
        capacity = self.keys[0].shape[2]
        if length <= capacity:
            return
        capacity = max(length, capacity + capacity // 2)
        for store in (self.keys, self.values):
            for i, old in enumerate(store):
                new = self._empty(capacity)
                new[:, :, :self.length] = old[:, :, :self.length]
                store[i] = new

    def crop(self, length: int) -> None:
        """Forget everything after the first ``length`` positions."""
        if not 0 <= length <= self.length:
            raise ValueError(f"LlamaCache.crop: length must be in [0, {self.length}], got {length}")
        self.length = length


class _Projection:
    """One or more linear maps of the same input, stacked along the output: GGUF blocks (quantized, read in
    place) or a float32 (out, in) matrix."""

    __slots__ = ("parts", "qtype", "weight", "bias", "out_features")

    def __init__(self, weights: Sequence, qtype: Optional[int] = None, biases=None):
        self.qtype = qtype
        self.bias = None
        if biases is not None and any(b is not None for b in biases):
            self.bias = np.concatenate([np.zeros(w.shape[0], _F32) if b is None else np.asarray(b, _F32)
                                        for w, b in zip(weights, biases)])
        if qtype is None:
            self.parts = None
            self.weight = weights[0] if len(weights) == 1 else np.concatenate(weights, axis=0)
            self.weight = np.ascontiguousarray(self.weight, dtype=_F32)
            self.out_features = self.weight.shape[0]
        else:
            self.parts = list(weights)
            self.weight = None
            self.out_features = sum(w.shape[0] for w in weights)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        if self.qtype is not None:
            return _C.quant_matmul(x, self.parts, self.qtype, self.bias)
        y = _C.gemm(x, self.weight, trans_b=True)
        if self.bias is not None:
            y += self.bias
        return y


class _Layer:
    __slots__ = ("attn_norm", "qkv", "o", "ffn_norm", "gate_up", "down")

    def __init__(self, attn_norm, qkv, o, ffn_norm, gate_up, down):
        self.attn_norm, self.qkv, self.o = attn_norm, qkv, o
        self.ffn_norm, self.gate_up, self.down = ffn_norm, gate_up, down


@dataclass
class CausalLMOutput:
    logits: np.ndarray
    past_key_values: Optional[LlamaCache] = None

    def __iter__(self):
        return iter((self.logits, self.past_key_values))


class LlamaForCausalLM:
    """A Llama-architecture decoder with its tokenizer (``model.tokenizer``, when the checkpoint has one)."""

    def __init__(self, config: LlamaConfig, embed, embed_qtype: Optional[int], layers: List[_Layer], norm,
                 lm_head: _Projection, tokenizer: Optional[LlamaTokenizer] = None):
        self.config = config
        self._embed, self._embed_qtype = embed, embed_qtype
        self.layers = layers
        self._norm = norm
        self.lm_head = lm_head
        self.tokenizer = tokenizer

    # ---- loading ----------------------------------------------------------------------------------------
    @classmethod
    def from_gguf(cls, path, dequantize: bool = False) -> "LlamaForCausalLM":
        """A GGUF Llama file. Q4_0 / Q4_1 / Q8_0 tensors stay packed and memory-mapped (no copy); other
        quantized types are dequantized to float32 with ``gguf`` (a copy, with a warning). ``dequantize=True``
        turns every weight into float32 (the products then run on the float GEMM, like transformers' loader)."""
        from gguf import GGMLQuantizationType

        path = os.fspath(path)
        if not os.path.isfile(path):
            raise FileNotFoundError(f"from_gguf: no such file: {path}")
        reader = _gguf_reader(path)
        fields = {name: _field_value(f) for name, f in reader.fields.items()}
        arch = fields.get("general.architecture")
        if arch != "llama":
            raise ValueError(f"from_gguf: architecture {arch!r} is not supported (only 'llama')")
        tensors = {t.name: t for t in reader.tensors}

        def meta(key, default=None):
            return fields.get(f"llama.{key}", default)

        heads = int(meta("attention.head_count"))
        hidden = int(meta("embedding_length"))
        embd = tensors["token_embd.weight"]
        config = LlamaConfig(
            vocab_size=int(meta("vocab_size", embd.shape[1] if len(embd.shape) > 1 else 0) or embd.data.shape[0]),
            hidden_size=hidden, intermediate_size=int(meta("feed_forward_length")),
            num_hidden_layers=int(meta("block_count")), num_attention_heads=heads,
            num_key_value_heads=int(meta("attention.head_count_kv", heads)),
            head_dim=int(meta("attention.key_length", hidden // heads)),
            rms_norm_eps=float(meta("attention.layer_norm_rms_epsilon", 1e-5)),
            rope_theta=float(meta("rope.freq_base", 10000.0)),
            max_position_embeddings=int(meta("context_length", 2048)),
            tie_word_embeddings="output.weight" not in tensors,
            bos_token_id=fields.get("tokenizer.ggml.bos_token_id"), eos_token_id=fields.get("tokenizer.ggml.eos_token_id"),
            rope_interleaved=True)
        if int(meta("rope.dimension_count", config.head_dim)) != config.head_dim:
            raise ValueError("from_gguf: partial rotary embedding (rope.dimension_count < head_dim) is not supported")
        packed = {int(GGMLQuantizationType.Q4_0), int(GGMLQuantizationType.Q4_1), int(GGMLQuantizationType.Q8_0)}

        def weight(name):
            """(array, qtype): packed bytes (rows, row bytes) with their type, or float32 (rows, cols)."""
            t = tensors[name]
            qtype = int(t.tensor_type)
            if qtype in packed and not dequantize:
                return t.data, qtype
            if t.tensor_type == GGMLQuantizationType.F32:
                return t.data, None
            if t.tensor_type in (GGMLQuantizationType.F16,):
                return t.data.astype(_F32), None
            if qtype in packed:
                return Q.dequantize(t.data, qtype), None
            from gguf.quants import dequantize as gguf_dequantize
            warnings.warn(f"from_gguf: {name} is {t.tensor_type.name}; dequantized to float32 (a copy)")
            return gguf_dequantize(t.data, t.tensor_type).astype(_F32), None

        def projection(names):
            parts = [weight(n) for n in names]
            qtypes = {q for _, q in parts}
            if len(qtypes) > 1:  # mixed types in one stack: fall back to float for all
                parts = [(w if q is None else Q.dequantize(w, q), None) for w, q in parts]
                qtypes = {None}
            return _Projection([w for w, _ in parts], qtypes.pop())

        def norm(name):
            return np.ascontiguousarray(weight(name)[0], dtype=_F32)

        layers = []
        for i in range(config.num_hidden_layers):
            p = f"blk.{i}."
            layers.append(_Layer(norm(p + "attn_norm.weight"),
                                 projection([p + "attn_q.weight", p + "attn_k.weight", p + "attn_v.weight"]),
                                 projection([p + "attn_output.weight"]), norm(p + "ffn_norm.weight"),
                                 projection([p + "ffn_gate.weight", p + "ffn_up.weight"]),
                                 projection([p + "ffn_down.weight"])))
        embed, embed_qtype = weight("token_embd.weight")
        lm_head = projection(["output.weight" if "output.weight" in tensors else "token_embd.weight"])
        tokenizer = LlamaTokenizer.from_gguf_fields(fields) if "tokenizer.ggml.tokens" in fields else None
        config.vocab_size = embed.shape[0]
        # The reader and its fields go: the weights are views of the mapping, which they keep alive.
        return cls(config, embed, embed_qtype, layers, norm("output_norm.weight"), lm_head, tokenizer)

    @classmethod
    def from_pretrained(cls, folder) -> "LlamaForCausalLM":
        """A Hugging Face Llama folder: config.json and model.safetensors (or sharded safetensors with their
        index). Weights become float32; the tokenizer comes from tokenizer.json when present."""
        from ..io import load

        folder = os.fspath(folder)
        with open(os.path.join(folder, "config.json"), encoding="utf-8") as f:
            raw = json.load(f)
        if raw.get("model_type", "llama") != "llama":
            raise ValueError(f"from_pretrained: model_type {raw.get('model_type')!r} is not supported (only 'llama')")
        config = LlamaConfig.from_dict(raw)
        index = os.path.join(folder, "model.safetensors.index.json")
        state: Dict[str, np.ndarray] = {}
        if os.path.exists(index):
            with open(index, encoding="utf-8") as f:
                for shard in sorted(set(json.load(f)["weight_map"].values())):
                    state.update(load(os.path.join(folder, shard)))
        else:
            state.update(load(os.path.join(folder, "model.safetensors")))
        state = {k[len("model."):] if k.startswith("model.") else k: v for k, v in state.items()}

        def get(name):
            return np.ascontiguousarray(state[name], dtype=_F32)

        def projection(names):
            return _Projection([get(n + ".weight") for n in names], None,
                               [state.get(n + ".bias") for n in names])

        layers = []
        for i in range(config.num_hidden_layers):
            p = f"layers.{i}."
            layers.append(_Layer(get(p + "input_layernorm.weight"),
                                 projection([p + "self_attn.q_proj", p + "self_attn.k_proj", p + "self_attn.v_proj"]),
                                 projection([p + "self_attn.o_proj"]), get(p + "post_attention_layernorm.weight"),
                                 projection([p + "mlp.gate_proj", p + "mlp.up_proj"]), projection([p + "mlp.down_proj"])))
        embed = get("embed_tokens.weight")
        lm_head = _Projection([embed if config.tie_word_embeddings or "lm_head.weight" not in state
                               else get("lm_head.weight")])
        tokenizer = LlamaTokenizer.from_pretrained(folder) if os.path.exists(os.path.join(folder, "tokenizer.json")) else None
        return cls(config, embed, None, layers, get("norm.weight"), lm_head, tokenizer)

    # ---- the network ------------------------------------------------------------------------------------
    def _embed_ids(self, ids: np.ndarray) -> np.ndarray:
        if self._embed_qtype is not None:
            return Q.dequantize(self._embed, self._embed_qtype, ids)
        return self._embed[ids]

    def forward(self, input_ids, past_key_values: Optional[LlamaCache] = None, use_cache: bool = True,
                logits_to_keep: int = 0) -> CausalLMOutput:
        """Logits (batch, length, vocab) for ids (batch, length) or (length,), and the cache. A given cache is
        extended in place; with ``use_cache=False`` none is returned. ``logits_to_keep=n`` computes only the
        last n positions' logits (0: all), as in Hugging Face."""
        ids = np.asarray(input_ids)
        if ids.dtype.kind not in "iu":
            raise TypeError(f"forward: argument 'input_ids' must hold integer ids, got {ids.dtype}")
        squeeze = ids.ndim == 1
        if squeeze:
            ids = ids[None]
        if ids.ndim != 2 or ids.shape[1] == 0:
            raise ValueError(f"forward: argument 'input_ids' must have shape (batch, length >= 1), got {np.shape(input_ids)}")
        c = self.config
        if ids.min() < 0 or ids.max() >= c.vocab_size:
            bad = int(ids.min()) if ids.min() < 0 else int(ids.max())
            raise IndexError(f"forward: token id {bad} is out of range for a vocabulary of {c.vocab_size}")
        batch, length = ids.shape
        cache = past_key_values
        if cache is None:
            cache = LlamaCache(c, batch, capacity=max(256, length))
        elif not isinstance(cache, LlamaCache):
            raise TypeError(f"forward: argument 'past_key_values' must be a LlamaCache, got {type(cache).__name__}")
        elif cache.batch != batch:
            raise ValueError(f"forward: the cache holds batch {cache.batch}, the ids batch {batch}")
        past = cache.length
        cache.reserve(past + length)
        H, Hkv, D = c.num_attention_heads, c.num_key_value_heads, c.head_dim
        positions = np.tile(np.arange(past, past + length, dtype=np.int64), batch)
        x = self._embed_ids(ids.reshape(-1))
        for i, layer in enumerate(self.layers):
            # Each temporary is dropped as soon as it is used: the prefill's peak memory is what is alive at once.
            h, _ = _C.rms_norm_forward(x, layer.attn_norm, c.rms_norm_eps)
            qkv = layer.qkv(h)
            del h
            _C.rotary_embedding_(qkv[:, :(H + Hkv) * D], positions, D, c.rope_theta, -1, c.rope_interleaved, False)
            kc, vc = cache.keys[i], cache.values[i]
            kc[:, :, past:past + length] = qkv[:, H * D:(H + Hkv) * D].reshape(batch, length, Hkv, D).transpose(0, 2, 1, 3)
            vc[:, :, past:past + length] = qkv[:, (H + Hkv) * D:].reshape(batch, length, Hkv, D).transpose(0, 2, 1, 3)
            attn = cached_attention(qkv[:, :H * D].reshape(batch, length, H, D), kc[:, :, :past + length],
                                    vc[:, :, :past + length])
            del qkv
            x += layer.o(attn.reshape(batch * length, H * D))
            del attn
            h, _ = _C.rms_norm_forward(x, layer.ffn_norm, c.rms_norm_eps)
            gu = layer.gate_up(h)
            del h
            F = gu.shape[1] // 2
            act = _C.swiglu_forward(gu[:, :F], gu[:, F:])
            del gu
            x += layer.down(act)
            del act
        cache.length = past + length
        keep = length if not logits_to_keep else min(int(logits_to_keep), length)
        x = x.reshape(batch, length, -1)[:, length - keep:].reshape(batch * keep, -1)
        h, _ = _C.rms_norm_forward(x, self._norm, c.rms_norm_eps)
        logits = self.lm_head(h).reshape(batch, keep, -1)
        if squeeze:
            logits = logits[0]
        return CausalLMOutput(logits, cache if use_cache else None)

    __call__ = forward

    # ---- generation -------------------------------------------------------------------------------------
    def generate(self, input_ids, max_new_tokens: int = 32, temperature: float = 0.0, top_k: Optional[int] = None,
                 top_p: Optional[float] = None, repetition_penalty: float = 1.0,
                 eos_token_id: Union[int, Sequence[int], None] = "default", stop: Optional[Sequence[str]] = None,
                 seed: Optional[int] = None, streamer: Optional[Callable[[str], None]] = None,
                 past_key_values: Optional[LlamaCache] = None, return_cache: bool = False):
        """Prompt ids (length,) or (1, length) plus up to ``max_new_tokens`` new ones, as one int64 array of the
        same rank. ``temperature=0`` decodes greedily; above 0 it samples from softmax(logits / temperature)
        restricted to the ``top_k`` most likely tokens and the smallest set whose probability reaches ``top_p``.
        ``repetition_penalty`` divides positive (multiplies negative) logits of tokens already in the sequence,
        as Hugging Face does. Generation stops at an ``eos_token_id`` (default: the model's; None: never) or
        once the new text contains a ``stop`` string. ``streamer(text)`` receives the new text as it is decoded
        (needs the tokenizer). ``seed`` makes sampling reproducible. With ``past_key_values`` the ids are a
        continuation of what the cache holds (only the new ids are passed)."""
        ids = np.asarray(input_ids)
        if ids.dtype.kind not in "iu":
            raise TypeError(f"generate: argument 'input_ids' must hold integer ids, got {ids.dtype}")
        flat = ids.ndim == 1
        if ids.ndim == 2 and ids.shape[0] == 1:
            ids = ids[0]
        elif ids.ndim != 1:
            raise ValueError(f"generate: argument 'input_ids' must have shape (length,) or (1, length), got {ids.shape}")
        if ids.size == 0:
            raise ValueError("generate: argument 'input_ids' is empty")
        if not isinstance(max_new_tokens, (int, np.integer)) or max_new_tokens < 0:
            raise ValueError(f"generate: argument 'max_new_tokens' must be an int >= 0, got {max_new_tokens!r}")
        if not temperature >= 0:
            raise ValueError(f"generate: argument 'temperature' must be >= 0, got {temperature}")
        if top_k is not None and (not isinstance(top_k, (int, np.integer)) or top_k < 1):
            raise ValueError(f"generate: argument 'top_k' must be an int >= 1 or None, got {top_k!r}")
        if top_p is not None and not 0 < top_p <= 1:
            raise ValueError(f"generate: argument 'top_p' must be in (0, 1], got {top_p}")
        if not repetition_penalty > 0:
            raise ValueError(f"generate: argument 'repetition_penalty' must be > 0, got {repetition_penalty}")
        if eos_token_id == "default":
            eos_token_id = self.config.eos_token_id
        eos = set() if eos_token_id is None else {int(eos_token_id)} if np.ndim(eos_token_id) == 0 else {int(e) for e in eos_token_id}
        if (streamer is not None or stop) and self.tokenizer is None:
            raise ValueError("generate: 'streamer' and 'stop' need the model's tokenizer, which this model has none of")
        rng = np.random.default_rng(seed)
        cache = past_key_values
        prompt = ids.astype(np.int64)
        out: List[int] = []
        seen = np.zeros(self.config.vocab_size, bool)
        seen[prompt] = True
        text = _StreamDecoder(self.tokenizer) if self.tokenizer is not None else None
        step_ids = prompt
        for _ in range(max_new_tokens):
            result = self.forward(step_ids[None], past_key_values=cache, use_cache=True, logits_to_keep=1)
            cache = result.past_key_values
            logits = result.logits[0, -1].astype(np.float64)
            if repetition_penalty != 1.0:
                s = logits[seen]
                logits[seen] = np.where(s > 0, s / repetition_penalty, s * repetition_penalty)
            token = _pick(logits, temperature, top_k, top_p, rng)
            out.append(token)
            seen[token] = True
            step_ids = np.array([token], np.int64)
            if token in eos:
                break
            if text is not None:
                piece = text.push(token)
                if streamer is not None and piece:
                    streamer(piece)
                if stop and any(s in text.text for s in stop):
                    break
        if text is not None and streamer is not None:
            rest = text.flush()
            if rest:
                streamer(rest)
        full = np.concatenate([prompt, np.array(out, np.int64)])
        full = full if flat else full[None]
        return (full, cache) if return_cache else full


def _pick(logits: np.ndarray, temperature: float, top_k, top_p, rng) -> int:
    if temperature == 0:
        return int(np.argmax(logits))
    z = logits / temperature
    if top_k is not None and top_k < z.size:
        kth = np.partition(z, -top_k)[-top_k]
        z = np.where(z < kth, -np.inf, z)
    z = z - z.max()
    p = np.exp(z)
    p /= p.sum()
    if top_p is not None and top_p < 1:
        order = np.argsort(-p, kind="stable")
        cum = np.cumsum(p[order])
        cut = int(np.searchsorted(cum, top_p)) + 1  # the smallest prefix whose mass reaches top_p
        keep = np.zeros_like(p)
        keep[order[:cut]] = p[order[:cut]]
        p = keep / keep.sum()
    return int(rng.choice(p.size, p=p))


class _StreamDecoder:
    """Text of the generated ids, released piece by piece: a piece is held back while it ends in an
    incomplete UTF-8 sequence (decoded as U+FFFD) so that a multi-byte character is never split. Each step
    decodes only the ids since the last released piece, with those of the piece before as context (so the
    decoder's joining of pieces, e.g. of byte-level tokens, is the same as decoding everything): O(1) per
    step, not O(length)."""

    def __init__(self, tokenizer: LlamaTokenizer):
        self._tk = tokenizer
        self._ids: List[int] = []
        self._prefix = 0  # ids[prefix:read]: the context, already released
        self._read = 0
        self.text = ""

    def _decode(self, ids) -> str:
        return self._tk.decode(ids, skip_special_tokens=True)

    def push(self, token: int) -> str:
        self._ids.append(token)
        return self._release(hold_incomplete=True)

    def flush(self) -> str:
        return self._release(hold_incomplete=False)

    def _release(self, hold_incomplete: bool) -> str:
        context = self._decode(self._ids[self._prefix:self._read])
        new = self._decode(self._ids[self._prefix:])
        if len(new) <= len(context) or (hold_incomplete and new.endswith("\ufffd")):
            return ""
        piece = new[len(context):]
        self._prefix, self._read = self._read, len(self._ids)
        self.text += piece
        return piece


def _gguf_reader(path: str):
    """A ``gguf.GGUFReader`` whose mapping is viewed as a plain ndarray: the reader slices it once per metadata
    element (SmolLM2's vocabulary and merges are ~250,000 elements), and a slice of an ``np.memmap`` costs
    ~480 bytes against ~85 for a plain view (≈160 MB against ≈30 MB while loading). The views still keep the
    mapping alive (their base is the memmap)."""
    from gguf import GGUFReader

    class PlainViewReader(GGUFReader):
        def __setattr__(self, name, value):
            if name == "data" and isinstance(value, np.memmap):
                value = value.view(np.ndarray)
            super().__setattr__(name, value)

    return PlainViewReader(path, "r")


def _field_value(f):
    try:
        return f.contents()
    except Exception:  # a field type the reader cannot turn into Python values: leave it out
        return None
