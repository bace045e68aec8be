"""The tokenizer of a Llama-architecture LLM, on the ``tokenizers`` library: built from a GGUF file's
metadata (``tokenizer.ggml.*``: byte-level BPE vocabulary, merges, special tokens, chat template) or read
from a Hugging Face folder's ``tokenizer.json``. The chat template is rendered with jinja2 when it is
installed (as Hugging Face does: a sandboxed environment); without jinja2 only ChatML templates
(``<|im_start|>role\\ncontent<|im_end|>``, SmolLM2's, Qwen's) are rendered, by hand.
"""
from __future__ import annotations

import json
import os
from typing import Dict, List, Optional, Sequence

# GGUF's tokenizer.ggml.pre names the pre-tokenizer; the byte-level BPE models we know how to split.
_PRE_TOKENIZERS = {"smollm": "digits+bytelevel", "starcoder": "digits+bytelevel", "refact": "digits+bytelevel",
                   "gpt2": "bytelevel", "gpt-2": "bytelevel", "default": "bytelevel"}
_CONTROL = 3  # llama.cpp's token types: 1 normal, 2 unknown, 3 control, 4 user-defined, 5 unused, 6 byte
_USER_DEFINED = 4


class LlamaTokenizer:
    """``encode`` / ``decode`` / ``apply_chat_template`` with Hugging Face's names and defaults."""

    def __init__(self, tokenizer, bos_token_id: Optional[int], eos_token_id: Optional[int],
                 chat_template: Optional[str] = None, add_bos_token: bool = False):
        self._tk = tokenizer
        self.bos_token_id = bos_token_id
        self.eos_token_id = eos_token_id
        self.chat_template = chat_template
        self.add_bos_token = add_bos_token
        self.bos_token = None if bos_token_id is None else tokenizer.id_to_token(bos_token_id)
        self.eos_token = None if eos_token_id is None else tokenizer.id_to_token(eos_token_id)

    @property
    def vocab_size(self) -> int:
        return self._tk.get_vocab_size(with_added_tokens=True)

    # ---- construction -------------------------------------------------------------------------------
    @classmethod
    def from_gguf_fields(cls, fields: Dict[str, object]) -> "LlamaTokenizer":
        from tokenizers import AddedToken, Tokenizer, decoders, models, pre_tokenizers

        model = fields.get("tokenizer.ggml.model")
        if model != "gpt2":
            raise ValueError(f"from_gguf: tokenizer model {model!r} is not supported (only byte-level BPE, 'gpt2')")
        pre = str(fields.get("tokenizer.ggml.pre", "default"))
        if pre not in _PRE_TOKENIZERS:
            raise ValueError(f"from_gguf: pre-tokenizer {pre!r} is not supported; known: {sorted(_PRE_TOKENIZERS)}")
        tokens: List[str] = list(fields["tokenizer.ggml.tokens"])
        merges = [tuple(m.split(" ", 1)) for m in fields.get("tokenizer.ggml.merges", [])]
        types = list(fields.get("tokenizer.ggml.token_type", [1] * len(tokens)))
        tk = Tokenizer(models.BPE(vocab={t: i for i, t in enumerate(tokens)}, merges=merges))
        byte_level = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        if _PRE_TOKENIZERS[pre] == "digits+bytelevel":
            tk.pre_tokenizer = pre_tokenizers.Sequence([pre_tokenizers.Digits(individual_digits=True), byte_level])
        else:
            tk.pre_tokenizer = byte_level
        tk.decoder = decoders.ByteLevel()
        special = [AddedToken(t, special=True, normalized=False) for t, ty in zip(tokens, types) if ty == _CONTROL]
        user = [AddedToken(t, special=False, normalized=False) for t, ty in zip(tokens, types) if ty == _USER_DEFINED]
        tk.add_special_tokens(special)
        if user:
            tk.add_tokens(user)
        bos, eos = fields.get("tokenizer.ggml.bos_token_id"), fields.get("tokenizer.ggml.eos_token_id")
        return cls(tk, None if bos is None else int(bos), None if eos is None else int(eos),
                   fields.get("tokenizer.chat_template"), bool(fields.get("tokenizer.ggml.add_bos_token", False)))

    @classmethod
    def from_pretrained(cls, folder) -> "LlamaTokenizer":
        from tokenizers import Tokenizer

        folder = os.fspath(folder)
        tk = Tokenizer.from_file(os.path.join(folder, "tokenizer.json"))
        config: Dict[str, object] = {}
        path = os.path.join(folder, "tokenizer_config.json")
        if os.path.exists(path):
            with open(path, encoding="utf-8") as f:
                config = json.load(f)

        def token_id(name):
            value = config.get(name)
            if isinstance(value, dict):
                value = value.get("content")
            return None if value is None else tk.token_to_id(value)

        template = config.get("chat_template")
        jinja = os.path.join(folder, "chat_template.jinja")
        if template is None and os.path.exists(jinja):
            with open(jinja, encoding="utf-8") as f:
                template = f.read()
        return cls(tk, token_id("bos_token"), token_id("eos_token"), template, bool(config.get("add_bos_token", False)))

    # ---- use ------------------------------------------------------------------------------------------
    def encode(self, text: str, add_special_tokens: bool = True) -> List[int]:
        ids = self._tk.encode(text, add_special_tokens=False).ids
        if add_special_tokens and self.add_bos_token and self.bos_token_id is not None:
            ids = [self.bos_token_id] + ids
        return ids

    def __call__(self, text: str, add_special_tokens: bool = True) -> List[int]:
        return self.encode(text, add_special_tokens)

    def decode(self, ids: Sequence[int], skip_special_tokens: bool = False) -> str:
        return self._tk.decode([int(i) for i in ids], skip_special_tokens=skip_special_tokens)

    def apply_chat_template(self, messages: Sequence[Dict[str, str]], add_generation_prompt: bool = True,
                            tokenize: bool = True):
        """The conversation as the model was trained to read it: text, or its ids (``tokenize=True``)."""
        for m in messages:
            if not isinstance(m, dict) or "role" not in m or "content" not in m:
                raise ValueError(f"apply_chat_template: each message must be a dict with 'role' and 'content', got {m!r}")
        text = self._render(list(messages), add_generation_prompt)
        return self._tk.encode(text, add_special_tokens=False).ids if tokenize else text

    def _render(self, messages, add_generation_prompt: bool) -> str:
        template = self.chat_template
        if template is None:
            raise ValueError("apply_chat_template: this tokenizer has no chat template (not an Instruct model?)")
        try:
            from jinja2.sandbox import ImmutableSandboxedEnvironment
        except ImportError:
            if "<|im_start|>" not in template:
                raise ValueError("apply_chat_template: rendering this chat template needs jinja2 "
                                 "(pip install jinja2); without it only ChatML templates are supported") from None
            return _chatml(messages, add_generation_prompt, template)
        env = ImmutableSandboxedEnvironment(trim_blocks=True, lstrip_blocks=True)
        return env.from_string(template).render(messages=messages, add_generation_prompt=add_generation_prompt,
                                                bos_token=self.bos_token or "", eos_token=self.eos_token or "")


def _chatml(messages, add_generation_prompt: bool, template: str) -> str:
    """ChatML by hand: the template's default system prompt (if it has one) when none is given."""
    out = []
    marker = "<|im_start|>system\n"
    if messages and messages[0]["role"] != "system" and marker in template:
        start = template.index(marker) + len(marker)
        end = template.find("<|im_end|>", start)
        if end > start:
            out.append(f"{marker}{template[start:end]}<|im_end|>\n")
    for m in messages:
        out.append(f"<|im_start|>{m['role']}\n{m['content']}<|im_end|>\n")
    if add_generation_prompt:
        out.append("<|im_start|>assistant\n")
    return "".join(out)
