"""CRF: seqkernels' nn.CRF (C++ forward algorithm, forward-backward gradient, Viterbi) vs the same CRF in torch
ops (benchmarks/torch_apps.py's TorchCRF: a batched forward algorithm over time steps, autograd for the
gradient, a per-sequence Viterbi loop — how a torch user writes one, as pytorch-crf does), NLL forward +
backward and decoding, same threads, one process, alternating.

    python benchmarks/bench_crf.py [--threads 2] [--rounds 7] [--no-write]
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(__file__))

import seqkernels as sk
from seqkernels import nn
from seqkernels.benchmarking import (benchmark_arguments, format_table, machine_description, median_times,
                                     publish, ratio, thread_limit)
from torch_apps import TorchCRF

# (batch, steps, tags, note)
SHAPES = [(32, 40, 21, "WNUT-16 BiLSTM-CRF batch"), (64, 128, 9, "CoNLL-03-sized, long sentences"),
          (8, 500, 50, "long sequences, many tags")]


def workloads(shape, rng):
    batch, steps, tags, _ = shape
    e = rng.standard_normal((batch, steps, tags), dtype=np.float32)
    y = rng.integers(0, tags, (batch, steps))
    lengths = rng.integers(steps // 2, steps + 1, batch)
    lengths[0] = steps
    ours, ref = nn.CRF(tags), TorchCRF(tags)
    with torch.no_grad():
        for a, b in ((ref.transitions, ours.transitions), (ref.start_transitions, ours.start_transitions),
                     (ref.end_transitions, ours.end_transitions)):
            a.copy_(torch.from_numpy(b.data))
    es, et = sk.tensor(e, requires_grad=True), torch.tensor(e, requires_grad=True)
    yt, lt = torch.tensor(y), torch.tensor(lengths)
    mask = (torch.arange(steps)[None] < lt[:, None]).float()
    np.testing.assert_allclose(float(ours(es, y, lengths=lengths)), float(ref(et, yt, mask)), rtol=1e-4)
    assert ours.decode(e, lengths=lengths) == ref.decode(et.detach(), lt)

    def sk_nll():
        es.grad = None
        for p in ours.parameters():
            p.grad = None
        ours(es, y, lengths=lengths).backward()

    def torch_nll():
        et.grad = None
        ref.zero_grad(set_to_none=True)
        ref(et, yt, mask).backward()

    def torch_decode():
        with torch.no_grad():
            ref.decode(et, lt)

    return {"sk nll": sk_nll, "torch nll": torch_nll, "sk decode": lambda: ours.decode(e, lengths=lengths),
            "torch decode": torch_decode}


def main():
    args = benchmark_arguments(rounds=7).parse_args()
    rng = np.random.default_rng(0)
    rows = []
    with thread_limit(args.threads):
        for shape in SHAPES:
            t = median_times(workloads(shape, rng), rounds=args.rounds)
            rows.append([f"B={shape[0]}, T={shape[1]}, K={shape[2]}", shape[3],
                         f"{t['sk nll'] * 1e3:.3f}", f"{t['torch nll'] * 1e3:.2f}", ratio(t["torch nll"], t["sk nll"]),
                         f"{t['sk decode'] * 1e3:.3f}", f"{t['torch decode'] * 1e3:.1f}",
                         ratio(t["torch decode"], t["sk decode"])])
    table = format_table(["shape", "note", "sk NLL fwd+bwd ms", "torch NLL fwd+bwd ms", "ratio", "sk Viterbi ms",
                          "torch Viterbi ms", "ratio"], rows)
    text = (f"## crf (`benchmarks/bench_crf.py`)\n\nMachine: {machine_description()}; {args.threads} threads; torch "
            f"{torch.__version__}; shared machine (run under the CPU lock). Ratios: torch time / seqkernels time "
            f"(above 1: seqkernels faster), medians of {args.rounds} alternating rounds. torch: the CRF written in "
            f"torch ops (batched forward algorithm over time steps + autograd; Viterbi per sequence), as "
            f"pytorch-crf does it. Both checked equal (NLL, paths) before timing.\n\n{table}\n")
    publish(__file__, "crf", text, args.no_write)


if __name__ == "__main__":
    main()
