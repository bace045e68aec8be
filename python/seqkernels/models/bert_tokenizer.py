"""BERT's WordPiece tokenizer, implemented from the published algorithm (no dependency):

1. basic tokenization: drop NUL, U+FFFD and control characters, map whitespace to spaces, put spaces around
   CJK ideographs, lowercase and strip accents (NFD, drop combining marks) when the model is uncased, split
   on whitespace and then around every punctuation character;
2. WordPiece: each word becomes the greedy longest-match sequence of vocabulary pieces, continuation
   pieces prefixed with ``##``; a word with no such split (or longer than 100 characters) becomes [UNK];
3. [CLS] a [SEP] (b [SEP]), token_type_ids 0 for the first segment and 1 for the second, truncation
   (longest first, as Hugging Face), padding on the right, and the attention mask.

Special tokens written in the text ("[SEP]", ...) are kept whole, as Hugging Face's tokenizers do.

    tok = BertTokenizer.from_pretrained(folder)        # vocab.txt (or tokenizer.json) + tokenizer_config.json
    batch = tok(["a sentence", "another"], padding=True, truncation=True, max_length=128, return_tensors="np")
    batch["input_ids"], batch["token_type_ids"], batch["attention_mask"]
"""
from __future__ import annotations

import os
import re
import unicodedata
from typing import Dict, List, Optional, Sequence, Union

import numpy as np

from .._jsonfile import read_object

SPECIAL_TOKENS = ("[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]")


def _is_whitespace(ch: str) -> bool:
    return ch in " \t\n\r" or unicodedata.category(ch) == "Zs"


def _is_control(ch: str) -> bool:
    # control, format, private use (removed as transformers' BertNormalizer does); unassigned code points (Cn)
    # are kept there (and become [UNK]), so here too
    return ch not in "\t\n\r" and unicodedata.category(ch) in ("Cc", "Cf", "Co", "Cs")


def _is_punctuation(ch: str) -> bool:
    cp = ord(ch)
    # All non-alphanumeric ASCII counts as punctuation ("$", "^", "`" included), as in BERT.
    if 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126:
        return True
    return unicodedata.category(ch).startswith("P")


_CJK_RANGES = ((0x4E00, 0x9FFF), (0x3400, 0x4DBF), (0x20000, 0x2A6DF), (0x2A700, 0x2B73F), (0x2B740, 0x2B81F),
               (0x2B820, 0x2CEAF), (0xF900, 0xFAFF), (0x2F800, 0x2FA1F))


def _is_cjk(ch: str) -> bool:
    cp = ord(ch)
    return any(lo <= cp <= hi for lo, hi in _CJK_RANGES)


class BertTokenizer:
    """WordPiece tokenization for BERT from a vocabulary (token -> id, in vocab.txt order)."""

    def __init__(self, vocab: Union[Dict[str, int], Sequence[str]], do_lower_case: bool = True,
                 strip_accents: Optional[bool] = None, tokenize_chinese_chars: bool = True,
                 model_max_length: int = 512, max_input_chars_per_word: int = 100):
        self.vocab = dict(vocab) if isinstance(vocab, dict) else {tok: i for i, tok in enumerate(vocab)}
        missing = [t for t in SPECIAL_TOKENS if t not in self.vocab]
        if missing:
            raise ValueError(f"BertTokenizer: the vocabulary lacks the special tokens {missing}")
        self.ids_to_tokens = {i: t for t, i in self.vocab.items()}
        self.do_lower_case = bool(do_lower_case)
        self.strip_accents = strip_accents
        self.tokenize_chinese_chars = bool(tokenize_chinese_chars)
        self.model_max_length = int(model_max_length)
        self.max_input_chars_per_word = int(max_input_chars_per_word)
        self.cls_token_id, self.sep_token_id, self.pad_token_id, self.unk_token_id = (
            self.vocab[t] for t in ("[CLS]", "[SEP]", "[PAD]", "[UNK]"))
        self._special = re.compile("(" + "|".join(re.escape(t) for t in SPECIAL_TOKENS) + ")")

    @classmethod
    def from_pretrained(cls, folder, **overrides) -> "BertTokenizer":
        """Reads ``vocab.txt`` (or the WordPiece vocabulary of ``tokenizer.json``) and the options of
        ``tokenizer_config.json`` from a local folder; ``overrides`` replace those options."""
        folder = os.fspath(folder)
        options = {}
        config_path = os.path.join(folder, "tokenizer_config.json")
        if os.path.exists(config_path):
            config = read_object(config_path)
            options = {k: config[k] for k in ("do_lower_case", "strip_accents", "tokenize_chinese_chars",
                                              "model_max_length") if k in config}
            if options.get("model_max_length", 0) > 1 << 30:  # transformers' "no limit" sentinel
                del options["model_max_length"]
        options.update(overrides)
        vocab_path, json_path = os.path.join(folder, "vocab.txt"), os.path.join(folder, "tokenizer.json")
        if os.path.exists(vocab_path):
            with open(vocab_path, encoding="utf-8") as f:
                vocab = [line.rstrip("\n") for line in f]
        elif os.path.exists(json_path):
            model = read_object(json_path).get("model")
            if not isinstance(model, dict) or model.get("type") != "WordPiece":
                raise ValueError(f"BertTokenizer: '{json_path}' holds a {model.get('type') if isinstance(model, dict) else model!r} model, "
                                 "not WordPiece")
            vocab = model["vocab"]
        else:
            raise FileNotFoundError(f"BertTokenizer.from_pretrained: '{folder}' has neither vocab.txt nor "
                                    "tokenizer.json")
        return cls(vocab, **options)

    # ---- text -> tokens --------------------------------------------------------------------------
    def _clean(self, text: str) -> str:
        out = []
        for ch in text:
            if ch == "\0" or ch == "\ufffd" or _is_control(ch):
                continue
            if _is_whitespace(ch):
                out.append(" ")
            elif self.tokenize_chinese_chars and _is_cjk(ch):
                out.append(f" {ch} ")
            else:
                out.append(ch)
        return "".join(out)

    def _normalize_word(self, word: str) -> str:
        if self.do_lower_case:
            word = word.lower()
        if self.strip_accents or (self.strip_accents is None and self.do_lower_case):
            word = "".join(c for c in unicodedata.normalize("NFD", word) if unicodedata.category(c) != "Mn")
        return word

    def _basic_tokenize(self, text: str) -> List[str]:
        words = []
        for word in self._clean(unicodedata.normalize("NFC", text)).split():
            current = ""
            for ch in self._normalize_word(word):
                if _is_punctuation(ch):
                    if current:
                        words.append(current)
                    words.append(ch)
                    current = ""
                else:
                    current += ch
            if current:
                words.append(current)
        return words

    def _wordpiece(self, word: str) -> List[str]:
        if len(word) > self.max_input_chars_per_word:
            return ["[UNK]"]
        pieces, start = [], 0
        while start < len(word):
            end = len(word)
            while end > start:
                piece = word[start:end] if start == 0 else "##" + word[start:end]
                if piece in self.vocab:
                    break
                end -= 1
            if end == start:
                return ["[UNK]"]
            pieces.append(piece)
            start = end
        return pieces

    def tokenize(self, text: str) -> List[str]:
        """The WordPiece tokens of ``text`` (no [CLS]/[SEP] added)."""
        if not isinstance(text, str):
            raise TypeError(f"BertTokenizer: text must be a str, got {type(text).__name__}")
        tokens = []
        for chunk in self._special.split(text):
            if chunk in SPECIAL_TOKENS:
                tokens.append(chunk)
            else:
                tokens.extend(p for word in self._basic_tokenize(chunk) for p in self._wordpiece(word))
        return tokens

    def convert_tokens_to_ids(self, tokens: Sequence[str]) -> List[int]:
        return [self.vocab.get(t, self.unk_token_id) for t in tokens]

    def convert_ids_to_tokens(self, ids: Sequence[int]) -> List[str]:
        return [self.ids_to_tokens.get(int(i), "[UNK]") for i in ids]

    # ---- tokens -> model inputs ------------------------------------------------------------------
    @staticmethod
    def _truncate(first: List[int], second: Optional[List[int]], budget: int, strategy: str):
        """Fits the sequences into ``budget`` tokens: longest_first (the longer gives way; when both exceed
        half the budget each keeps half), only_first or only_second. Like Hugging Face, a
        sequence that would have to give up all its tokens raises."""
        if budget < 0:
            raise ValueError("BertTokenizer: max_length is too small to hold the special tokens")
        n1, n2 = len(first), 0 if second is None else len(second)
        excess = n1 + n2 - budget
        if excess <= 0:
            return first, second
        if second is None or strategy != "longest_first":
            which = "second" if strategy == "only_second" and second is not None else "first"
            seq = second if which == "second" else first
            if second is not None and excess >= len(seq):
                raise ValueError(f"BertTokenizer: cannot fit the pair into max_length by truncating only the "
                                 f"{which} sequence ({len(seq)} tokens, {excess} too many)")
            if which == "second":
                return first, second[:n2 - excess]
            return first[:max(n1 - excess, 0)], second
        if min(n1, n2) <= budget // 2:  # the shorter one fits in half: the longer takes the rest
            n1, n2 = (n1, budget - n1) if n1 <= n2 else (budget - n2, n2)
        else:  # both longer: halves, the longer sequence (the second on ties) keeping the odd token
            n1 = (budget + 1) // 2 if n1 > n2 else budget // 2
            n2 = budget - n1
        return first[:n1], second[:n2]

    def encode_plus(self, text: str, text_pair: Optional[str] = None, add_special_tokens: bool = True,
                    truncation=False, max_length: Optional[int] = None) -> Dict[str, List[int]]:
        """[CLS] text [SEP] (text_pair [SEP]) as input_ids, token_type_ids and attention_mask lists (without the
        special tokens when ``add_special_tokens`` is False)."""
        first = self.convert_tokens_to_ids(self.tokenize(text))
        second = None if text_pair is None else self.convert_tokens_to_ids(self.tokenize(text_pair))
        if truncation:
            strategy = "longest_first" if truncation is True else truncation
            if strategy not in ("longest_first", "only_first", "only_second"):
                raise ValueError(f"BertTokenizer: truncation must be True, False, 'longest_first', 'only_first' "
                                 f"or 'only_second', got {truncation!r}")
            limit = self.model_max_length if max_length is None else max_length
            specials = (2 if second is None else 3) if add_special_tokens else 0
            first, second = self._truncate(first, second, limit - specials, strategy)
        cls, sep = ([self.cls_token_id], [self.sep_token_id]) if add_special_tokens else ([], [])
        ids = cls + first + sep
        types = [0] * len(ids)
        if second is not None:
            ids += second + sep
            types += [1] * (len(second) + len(sep))
        return {"input_ids": ids, "token_type_ids": types, "attention_mask": [1] * len(ids)}

    def encode(self, text: str, text_pair: Optional[str] = None, add_special_tokens: bool = True,
               truncation=False, max_length: Optional[int] = None) -> List[int]:
        """The input ids alone (Hugging Face's ``encode``)."""
        return self.encode_plus(text, text_pair, add_special_tokens, truncation, max_length)["input_ids"]

    def __call__(self, text, text_pair=None, add_special_tokens: bool = True, padding=False, truncation=False,
                 max_length: Optional[int] = None, return_tensors: Optional[str] = None):
        """Hugging Face's call: ``text`` a str or a list of str (``text_pair`` alike); ``padding`` False,
        True / "longest" (to the longest in the batch) or "max_length"; ``truncation`` False, True /
        "longest_first", "only_first", "only_second"; ``return_tensors`` None (lists) or "np" (int64 arrays)."""
        single = isinstance(text, str)
        texts = [text] if single else list(text)
        pairs = [None] * len(texts) if text_pair is None else ([text_pair] if single else list(text_pair))
        if len(pairs) != len(texts):
            raise ValueError(f"BertTokenizer: {len(texts)} texts but {len(pairs)} text pairs")
        encoded = [self.encode_plus(a, b, add_special_tokens, truncation, max_length) for a, b in zip(texts, pairs)]
        if padding is True or padding == "longest":
            target = max(len(e["input_ids"]) for e in encoded)
        elif padding == "max_length":
            target = self.model_max_length if max_length is None else max_length
        elif padding in (False, None, "do_not_pad"):
            target = None
        else:
            raise ValueError(f"BertTokenizer: padding must be True, False, 'longest' or 'max_length', got {padding!r}")
        if target is not None:
            for e in encoded:
                short = max(0, target - len(e["input_ids"]))
                e["input_ids"] += [self.pad_token_id] * short
                e["token_type_ids"] += [0] * short
                e["attention_mask"] += [0] * short
        keys = ("input_ids", "token_type_ids", "attention_mask")
        if return_tensors is None:
            return {k: encoded[0][k] if single else [e[k] for e in encoded] for k in keys}
        if return_tensors != "np":
            raise ValueError(f"BertTokenizer: return_tensors must be None or 'np', got {return_tensors!r}")
        if len({len(e["input_ids"]) for e in encoded}) > 1:
            raise ValueError("BertTokenizer: sequences of different lengths need padding=True for arrays")
        return {k: np.array([e[k] for e in encoded], dtype=np.int64) for k in keys}
