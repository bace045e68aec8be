"""Train and use a translation model: a joint subword vocabulary (BPE, ``tokenizers``) trained on the training
split, a ``Seq2SeqTransformer`` (or ``Seq2SeqLSTM``) trained teacher-forced on length-bucketed batches, saved as
``model.safetensors`` + ``config.json`` + ``tokenizer.json`` in one folder; ``Translator(folder)`` translates.

    train_translation(pairs, "fr-model", valid_pairs=valid)     # pairs: [(source, target), ...]
    Translator("fr-model").translate(["In the beginning ..."], num_beams=4)

The ``tokenizers`` package is needed here only (``pip install tokenizers``).
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from typing import Dict, Iterable, List, Optional, Sequence, Tuple

import numpy as np

SPECIALS = ("<pad>", "<s>", "</s>", "<unk>")  # ids 0, 1, 2, 3: pad, bos, eos, unk
PAD, BOS, EOS, UNK = range(4)


def _tokenizers():
    try:
        import tokenizers
    except ImportError as exc:  # pragma: no cover - an optional dependency
        raise ImportError("translation needs the 'tokenizers' package: pip install tokenizers") from exc
    return tokenizers


def train_tokenizer(texts: Iterable[str], vocab_size: int = 4000):
    """A byte-level-free BPE tokenizer (NFKC, Metaspace pre-tokenizer and decoder, so decoding restores the
    spaces) trained on ``texts``, with SPECIALS as ids 0-3."""
    tk = _tokenizers()
    tokenizer = tk.Tokenizer(tk.models.BPE(unk_token="<unk>"))
    tokenizer.normalizer = tk.normalizers.NFKC()
    tokenizer.pre_tokenizer = tk.pre_tokenizers.Metaspace()
    tokenizer.decoder = tk.decoders.Metaspace()
    trainer = tk.trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=list(SPECIALS), show_progress=False)
    tokenizer.train_from_iterator(texts, trainer=trainer)
    return tokenizer


def encode(tokenizer, texts: Sequence[str], max_len: int) -> List[List[int]]:
    """Token ids of each text, cut to ``max_len - 1`` and ended with EOS."""
    return [e.ids[:max_len - 1] + [EOS] for e in tokenizer.encode_batch(list(texts))]


def pad_batch(seqs: Sequence[Sequence[int]], bos: bool = False) -> np.ndarray:
    """(len(seqs), longest) int64 ids padded with PAD at the end, each row started with BOS if ``bos``."""
    lead = 1 if bos else 0
    out = np.full((len(seqs), lead + max(len(s) for s in seqs)), PAD, dtype=np.int64)
    for i, s in enumerate(seqs):
        if bos:
            out[i, 0] = BOS
        out[i, lead:lead + len(s)] = s
    return out


def bucketed_batches(src: Sequence[Sequence[int]], tgt: Sequence[Sequence[int]], batch_tokens: int,
                     rng: np.random.Generator) -> List[np.ndarray]:
    """Index batches of pairs of similar length (sorted by length within random chunks of 100 batches), each
    holding about ``batch_tokens`` target tokens; in random order."""
    lengths = np.array([max(len(s), len(t)) for s, t in zip(src, tgt)])
    order = rng.permutation(len(lengths))
    batches = []
    chunk = max(1, 100 * batch_tokens // max(1, int(lengths.mean())))
    for begin in range(0, len(order), chunk):
        part = order[begin:begin + chunk]
        part = part[np.argsort(lengths[part], kind="stable")]
        start = 0
        while start < len(part):
            end = start + 1
            while end < len(part) and (end + 1 - start) * lengths[part[end]] <= batch_tokens:
                end += 1
            batches.append(part[start:end])
            start = end
    return [batches[i] for i in rng.permutation(len(batches))]


def noam_lr(step: int, peak: float, warmup: int) -> float:
    """Linear warm-up to ``peak`` over ``warmup`` steps, then decay as 1/sqrt(step)."""
    step = max(step, 1)
    return peak * min(step / warmup, math.sqrt(warmup / step))


def make_model(config: Dict):
    from .models import Seq2SeqLSTM, Seq2SeqTransformer

    kind = config["model"]
    if kind == "transformer":
        return Seq2SeqTransformer(config["vocab_size"], d_model=config["d_model"], nhead=config["nhead"],
                                  num_encoder_layers=config["layers"], num_decoder_layers=config["layers"],
                                  dim_feedforward=config["ffn"], dropout=config["dropout"],
                                  max_len=config["max_len"] + 1, share_embeddings=True, pad_id=PAD, bos_id=BOS,
                                  eos_id=EOS)
    if kind in ("lstm", "lstm-bahdanau"):
        return Seq2SeqLSTM(config["vocab_size"], embed_dim=config["d_model"], hidden_size=config["d_model"],
                           attention="bahdanau" if kind == "lstm-bahdanau" else "luong",
                           dropout=config["dropout"], share_embeddings=True, pad_id=PAD, bos_id=BOS, eos_id=EOS)
    raise ValueError(f"unknown model {kind!r}: expected 'transformer', 'lstm' or 'lstm-bahdanau'")


DEFAULTS = dict(model="transformer", vocab_size=4000, d_model=128, nhead=4, layers=2, ffn=512, dropout=0.1,
                max_len=64, batch_tokens=2048, lr=2e-3, warmup=200, steps=1000, seed=0, clip=1.0)


def train_translation(pairs: Sequence[Tuple[str, str]], output_dir: str, valid_pairs=None, verbose: int = 1,
                      **options) -> Dict:
    """Trains a translation model on ``pairs`` ((source, target) strings) for ``steps`` Adam updates (Noam
    schedule) and saves it with its tokenizer into ``output_dir``. Options: see ``DEFAULTS``. Returns a
    summary (training time, final loss, validation loss)."""
    from . import functional as F
    from . import io, manual_seed, no_grad, optim
    from .tensor import tensor

    unknown = set(options) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"train_translation: unknown options {sorted(unknown)}; expected {sorted(DEFAULTS)}")
    config = {**DEFAULTS, **options}
    if not pairs:
        raise ValueError("train_translation: no training pairs")
    manual_seed(config["seed"])
    rng = np.random.default_rng(config["seed"])
    start = time.perf_counter()
    tokenizer = train_tokenizer([t for pair in pairs for t in pair], config["vocab_size"])
    config["vocab_size"] = tokenizer.get_vocab_size()
    src = encode(tokenizer, [s for s, _ in pairs], config["max_len"])
    tgt = encode(tokenizer, [t for _, t in pairs], config["max_len"])
    model = make_model(config)
    opt = optim.Adam(model.parameters(), lr=config["lr"], betas=(0.9, 0.98), eps=1e-9)
    batches, step, losses = [], 0, []
    model.train()
    while step < config["steps"]:
        if not batches:
            batches = bucketed_batches(src, tgt, config["batch_tokens"], rng)
        idx = batches.pop()
        s, t = pad_batch([src[i] for i in idx]), pad_batch([tgt[i] for i in idx], bos=True)
        step += 1
        for group in opt.param_groups:
            group["lr"] = noam_lr(step, config["lr"], config["warmup"])
        logits = model(s, t[:, :-1])
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), tensor(t[:, 1:].reshape(-1)), ignore_index=PAD)
        opt.zero_grad()
        loss.backward()
        optim.clip_grad_norm_(model.parameters(), config["clip"])
        opt.step()
        losses.append(float(loss.item()))
        if verbose and (step % 50 == 0 or step == config["steps"]):
            print(f"step {step}/{config['steps']}  loss {np.mean(losses[-50:]):.3f}  "
                  f"{time.perf_counter() - start:.0f} s", file=sys.stderr, flush=True)
    train_seconds = time.perf_counter() - start
    summary = {"train_seconds": train_seconds, "final_loss": float(np.mean(losses[-50:])), "steps": step}
    if valid_pairs:
        vs = encode(tokenizer, [s for s, _ in valid_pairs], config["max_len"])
        vt = encode(tokenizer, [t for _, t in valid_pairs], config["max_len"])
        model.eval()
        total, count = 0.0, 0
        with no_grad():
            for begin in range(0, len(vs), 64):
                s, t = pad_batch(vs[begin:begin + 64]), pad_batch(vt[begin:begin + 64], bos=True)
                logits = model(s, t[:, :-1])
                n = int((t[:, 1:] != PAD).sum())
                total += float(F.cross_entropy(logits.reshape(-1, logits.shape[-1]),
                                               tensor(t[:, 1:].reshape(-1)), ignore_index=PAD).item()) * n
                count += n
        summary["valid_loss"] = total / count
    os.makedirs(output_dir, exist_ok=True)
    io.save(model.state_dict(), os.path.join(output_dir, "model.safetensors"))
    tokenizer.save(os.path.join(output_dir, "tokenizer.json"))
    with open(os.path.join(output_dir, "config.json"), "w", encoding="utf-8") as fh:
        json.dump({**config, "summary": summary}, fh, indent=2)
    return summary


class Translator:
    """A model saved by ``train_translation`` (or ``seqkernels translate train``), ready to translate."""

    def __init__(self, model_dir: str):
        from . import io

        for name in ("config.json", "model.safetensors", "tokenizer.json"):
            if not os.path.isfile(os.path.join(model_dir, name)):
                raise FileNotFoundError(f"{model_dir}: no {name} (train a model with `seqkernels translate train`)")
        with open(os.path.join(model_dir, "config.json"), encoding="utf-8") as fh:
            self.config = json.load(fh)
        self.model = make_model(self.config)
        self.model.load_state_dict(io.load(os.path.join(model_dir, "model.safetensors")))
        self.model.eval()
        self.tokenizer = _tokenizers().Tokenizer.from_file(os.path.join(model_dir, "tokenizer.json"))

    def translate(self, texts: Sequence[str], num_beams: int = 1, max_new_tokens: Optional[int] = None,
                  length_penalty: float = 1.0, batch_size: int = 64) -> List[str]:
        """Translations of ``texts`` (see ``translate_texts``)."""
        return translate_texts(self.model, self.tokenizer, texts, self.config["max_len"], num_beams=num_beams,
                               max_new_tokens=max_new_tokens, length_penalty=length_penalty, batch_size=batch_size)


def translate_texts(model, tokenizer, texts: Sequence[str], max_len: int, num_beams: int = 1,
                    max_new_tokens: Optional[int] = None, length_penalty: float = 1.0,
                    batch_size: int = 64) -> List[str]:
    """Translations of ``texts`` by ``model`` (anything with ``generate``), batched ``batch_size`` at a time
    by similar source length; at most ``max_new_tokens`` tokens each (default: 1.5 x the source + 10, at most
    ``max_len``)."""
    texts = list(texts)
    if not texts:
        return []
    src = encode(tokenizer, texts, max_len)
    order = np.argsort([len(s) for s in src], kind="stable")
    out: List[Optional[str]] = [None] * len(texts)
    for begin in range(0, len(order), batch_size):
        idx = order[begin:begin + batch_size]
        batch = pad_batch([src[i] for i in idx])
        limit = max_new_tokens or min(max_len, int(batch.shape[1] * 1.5) + 10)
        ids = model.generate(batch, max_new_tokens=limit, num_beams=num_beams, length_penalty=length_penalty)
        for i, row in zip(idx, ids):
            row = [int(t) for t in row if t not in (PAD, BOS)]
            if EOS in row:
                row = row[:row.index(EOS)]
            out[i] = tokenizer.decode(row)
    return out


# ---- `seqkernels translate` (wired into seqkernels.cli; self-contained so any CLI layout can mount it) ----
def add_cli(command) -> None:
    """The ``translate`` command's arguments (``train`` / ``text`` subcommands) on its argparse parser
    (registered in ``seqkernels.apps.translate``)."""
    actions = command.add_subparsers(dest="action", required=True)
    train = actions.add_parser("train", help="train and save a model (default data: KJV -> Louis Segond)")
    train.add_argument("data", nargs="?", help="TSV file: source<TAB>target per line (default: the Bible pairs)")
    train.add_argument("--output-dir", default="seqkernels-translator")
    train.add_argument("--model", choices=("transformer", "lstm", "lstm-bahdanau"), default="transformer")
    for key in ("steps", "vocab_size", "d_model", "nhead", "layers", "ffn", "max_len", "batch_tokens", "warmup",
                "seed"):
        train.add_argument("--" + key.replace("_", "-"), type=int, default=DEFAULTS[key])
    for key in ("lr", "dropout"):
        train.add_argument("--" + key, type=float, default=DEFAULTS[key])
    train.add_argument("--threads", type=int, default=None)
    text = actions.add_parser("text", help="translate sentences ('-' reads one per line from stdin)")
    text.add_argument("texts", nargs="*")
    text.add_argument("--model-dir", default="seqkernels-translator")
    text.add_argument("--beams", type=int, default=4)
    text.add_argument("--threads", type=int, default=None)


def _read_pairs(path: str) -> List[Tuple[str, str]]:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    pairs = []
    with open(path, encoding="utf-8") as fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            parts = line.rstrip("\n").split("\t")
            if len(parts) != 2 or not parts[0].strip() or not parts[1].strip():
                raise ValueError(f"{path}, line {number}: expected source<TAB>target")
            pairs.append((parts[0], parts[1]))
    return pairs


def run_cli(args) -> None:
    from . import set_num_threads

    if args.threads is not None:
        if args.threads < 1:
            raise ValueError(f"--threads must be >= 1, got {args.threads}")
        set_num_threads(args.threads)
    if args.action == "train":
        if args.data is None:
            from .data.bible import bible_splits
            pairs, valid, _ = bible_splits()
        else:
            pairs, valid = _read_pairs(args.data), None
        options = {key: getattr(args, key) for key in DEFAULTS if hasattr(args, key) and key != "clip"}
        summary = train_translation(pairs, args.output_dir, valid_pairs=valid, **options)
        print(f"trained in {summary['train_seconds']:.0f} s, loss {summary['final_loss']:.3f}"
              + (f", validation loss {summary['valid_loss']:.3f}" if "valid_loss" in summary else "")
              + f"; saved to {args.output_dir}")
        return
    texts = [t for t in args.texts if t != "-"]
    if "-" in args.texts:
        texts += [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not texts:
        raise ValueError("give at least one sentence to translate (or '-' to read them from stdin)")
    if args.beams < 1:
        raise ValueError(f"--beams must be >= 1, got {args.beams}")
    for translation in Translator(args.model_dir).translate(texts, num_beams=args.beams):
        print(translation)
