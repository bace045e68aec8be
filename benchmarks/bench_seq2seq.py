"""Sequence to sequence: sk.models.Seq2SeqTransformer vs the same model in PyTorch (torch.nn.Transformer inside,
benchmarks/torch_seq2seq.py), same weights, same threads, one process, alternating rounds, medians.

1. A training step's forward + backward (logits -> cross-entropy -> backward; no optimizer step): d_model 256,
   4 heads, 3 + 3 layers, feed-forward 1024, dropout 0.1, vocabulary 8000, batch 32, source and target 48 tokens.
2. Generation (eval mode), 32 sources of 48 tokens, 48 new tokens each (EOS disabled so every row decodes all
   48), greedy and beam 4, with the same search code (seqkernels.models.generation) driving: seqkernels (key/value
   cache), torch recomputing the decoder over the prefix at each step (what nn.Transformer offers), and torch with
   a key/value cache written with its own ops.

    python benchmarks/bench_seq2seq.py [--threads 2] [--rounds 5] [--no-write]
"""
import os
import sys
import time

import numpy as np
import torch

import seqkernels as sk
from seqkernels import functional as F
from seqkernels.benchmarking import (benchmark_arguments, format_table, machine_description, median_times, publish,
                                     ratio, thread_limit)
from seqkernels.models import Seq2SeqTransformer

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_seq2seq import TorchSeq2SeqTransformer  # noqa: E402

VOCAB, D, HEADS, LAYERS, FFN, BATCH, SRC, TGT = 8000, 256, 4, 3, 1024, 32, 48, 48


def models(dropout):
    torch.manual_seed(0)
    ref = TorchSeq2SeqTransformer(VOCAB, D, HEADS, LAYERS, LAYERS, FFN, dropout=dropout, max_len=128)
    ours = Seq2SeqTransformer(VOCAB, d_model=D, nhead=HEADS, num_encoder_layers=LAYERS, num_decoder_layers=LAYERS,
                              dim_feedforward=FFN, dropout=dropout, max_len=128, share_embeddings=True)
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    return ours, ref


def training_step(rng):
    ours, ref = models(0.1)
    ours.train()
    ref.train()
    src = rng.integers(4, VOCAB, (BATCH, SRC))
    tgt = rng.integers(4, VOCAB, (BATCH, TGT + 1))
    tgt[:, 0] = 1
    labels = sk.tensor(tgt[:, 1:].reshape(-1))
    src_t, tgt_t, labels_t = torch.from_numpy(src), torch.from_numpy(tgt), torch.from_numpy(tgt[:, 1:].reshape(-1))

    def run_ours():
        ours.zero_grad()
        logits = ours(src, tgt[:, :-1])
        F.cross_entropy(logits.reshape(-1, VOCAB), labels).backward()

    def run_ref():
        ref.zero_grad()
        logits = ref(src_t, tgt_t[:, :-1])
        torch.nn.functional.cross_entropy(logits.reshape(-1, VOCAB), labels_t).backward()

    return run_ref, run_ours


def generation(rng, beams):
    ours, ref = models(0.0)
    ours.eval()
    ref.eval()
    src = rng.integers(4, VOCAB, (BATCH, SRC))

    def gen(model, cache=None):
        def run():
            if cache is not None:
                model.cache = cache
            out = model.generate(src, max_new_tokens=TGT, num_beams=beams, eos_token_id=-1)
            assert out.shape == (BATCH, TGT)
        return run

    return {"torch (no cache)": gen(ref, False), "torch (cache)": gen(ref, True), "seqkernels (cache)": gen(ours)}


def main():
    args = benchmark_arguments(rounds=5).parse_args()
    rng = np.random.default_rng(0)
    wall0, cpu0 = time.perf_counter(), sum(os.times()[:2])
    with thread_limit(args.threads):
        run_ref, run_ours = training_step(rng)
        t = median_times({"torch": run_ref, "seqkernels": run_ours}, rounds=args.rounds, min_time=0.5)
        tokens = BATCH * (SRC + TGT)
        train_rows = [["fwd+bwd (logits, cross-entropy, backward)", f"{t['torch'] * 1e3:.0f}",
                       f"{t['seqkernels'] * 1e3:.0f}", ratio(t["torch"], t["seqkernels"]),
                       f"{tokens / t['torch']:.0f}", f"{tokens / t['seqkernels']:.0f}"]]
        print(train_rows[0], flush=True)
        gen_rows = []
        for beams in (1, 4):
            contenders = generation(rng, beams)
            g = median_times(contenders, rounds=max(2, args.rounds // 2), min_time=0.0)
            new = BATCH * TGT
            ours = g["seqkernels (cache)"]
            row = [f"{'greedy' if beams == 1 else f'beam {beams}'}"]
            for name in contenders:
                row.append(f"{new / g[name]:.0f}")
            row += [ratio(g["torch (no cache)"], ours), ratio(g["torch (cache)"], ours)]
            gen_rows.append(row)
            print(row, flush=True)
    wall = time.perf_counter() - wall0
    share = (sum(os.times()[:2]) - cpu0) / wall
    text = (f"## Sequence to sequence (`benchmarks/bench_seq2seq.py`)\n\nMachine: {machine_description()} (shared "
            f"with other jobs; this process's CPU time / wall time over the run: {share:.2f}, of {args.threads} "
            f"possible); {args.threads} threads; torch {torch.__version__}. Model: Seq2SeqTransformer "
            f"d_model {D}, {HEADS} heads, {LAYERS} + {LAYERS} layers, feed-forward {FFN}, shared vocabulary "
            f"{VOCAB}, pre-norm, vs the same weights in torch.nn.Transformer (benchmarks/torch_seq2seq.py).\n\n"
            f"Training step, batch {BATCH}, source {SRC} and target {TGT} tokens, dropout 0.1 (medians of "
            f"{args.rounds} alternating rounds; ratio = torch time / ours):\n\n"
            + format_table(["workload", "torch ms", "seqkernels ms", "ratio", "torch tokens/s",
                            "seqkernels tokens/s"], train_rows)
            + f"\n\nGeneration, {BATCH} sources of {SRC} tokens, {TGT} new tokens each (EOS disabled), new tokens per "
              "second (the same search code drives all three; beam 4 decodes 4 rows per sentence and counts the "
              "sentence's tokens once):\n\n"
            + format_table(["search", "torch no cache tok/s", "torch cache tok/s", "seqkernels cache tok/s",
                            "vs torch no cache", "vs torch cache"], gen_rows) + "\n")
    publish(__file__, "seq2seq", text, args.no_write)


if __name__ == "__main__":
    main()
