"""Per-call overhead of tiny ops, seqkernels vs torch eager, at 1 thread (issue 11's add and cross_entropy).

    python benchmarks/bench_overhead.py [--calls 20000] [--rounds 5]

Each op is timed on process CPU time (``time.process_time``, so waiting for a shared core does not count) over
--calls calls; the rounds alternate seqkernels and torch and the figure is the minimum per call over the
rounds (the least disturbed). Ratio: torch / seqkernels (above 1: ours cheaper).
"""
from __future__ import annotations

import argparse
import os
import sys
import time

import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "python"))
import seqkernels as sk  # noqa: E402
import seqkernels.functional as F  # noqa: E402


def workloads(torch):
    rng = np.random.default_rng(0)
    a, b = (rng.standard_normal(4).astype(np.float32) for _ in range(2))
    sa, sb, ta, tb = sk.tensor(a), sk.tensor(b), torch.tensor(a), torch.tensor(b)
    yield "add (4,) + (4,)", lambda: sa + sb, lambda: ta + tb
    yield "mul (4,) * 2.0", lambda: sa * 2.0, lambda: ta * 2.0
    yield "relu (4,)", lambda: F.relu(sa), lambda: torch.relu(ta)
    yield "sum (4,)", lambda: sa.sum(), lambda: ta.sum()
    z = rng.standard_normal((2, 5)).astype(np.float32)
    sz, tz, st, tt = sk.tensor(z), torch.tensor(z), sk.tensor(np.array([1, 3])), torch.tensor([1, 3])
    yield "cross_entropy (2, 5), forward", lambda: F.cross_entropy(sz, st), lambda: torch.nn.functional.cross_entropy(tz, tt)
    x = rng.standard_normal((2, 4)).astype(np.float32)
    xs, xt = sk.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)

    def ours_graph():
        (xs * 2.0 + xs).sum().backward()

    def torch_graph():
        (xt * 2.0 + xt).sum().backward()

    yield "(x * 2 + x).sum().backward(), (2, 4)", ours_graph, torch_graph


def per_call(fn, calls: int) -> float:
    for _ in range(200):
        fn()
    t0 = time.process_time()
    for _ in range(calls):
        fn()
    return (time.process_time() - t0) / calls


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--calls", type=int, default=20000)
    p.add_argument("--rounds", type=int, default=5)
    args = p.parse_args()
    import torch

    torch.set_num_threads(1)
    sk.set_num_threads(1)
    w0, c0 = time.perf_counter(), time.process_time()
    print("| op (1 thread) | seqkernels us | torch us | ratio |\n|---|---|---|---|")
    for name, ours, theirs in workloads(torch):
        best = {"ours": float("inf"), "torch": float("inf")}
        for r in range(args.rounds):
            for who, fn in ((("ours", ours), ("torch", theirs)) if r % 2 == 0 else (("torch", theirs), ("ours", ours))):
                best[who] = min(best[who], per_call(fn, args.calls))
        print(f"| {name} | {best['ours'] * 1e6:.2f} | {best['torch'] * 1e6:.2f} | {best['torch'] / best['ours']:.2f}x |",
              flush=True)
    wall = time.perf_counter() - w0
    print(f"\nCPU share of this process: {(time.process_time() - c0) / wall:.2f} (of 1 thread)")


if __name__ == "__main__":
    main()
