"""Core ops, forward + backward through autograd, seqkernels vs torch at the same thread count, one process,
alternating rounds: linear, layer_norm and cross_entropy at BERT-ish shapes, an MLP training step (Adam), and
the per-op Python overhead on tiny inputs.

    python benchmarks/bench_core.py [--threads 2] [--rounds 5] [--no-write]

Prints the table (ratio = torch time / seqkernels time; above 1 means seqkernels is faster) and rewrites the
"core" section of benchmarks/RESULTS.md.
"""

import numpy as np
import torch

import seqkernels as sk
import seqkernels.functional as F
from seqkernels.benchmarking import format_table, fwd_bwd, machine_description, median_times, ratio, thread_limit, \
    benchmark_arguments, publish


OVERHEAD_WARMUP_CALLS = 300


def leaves(rng, *shapes, scale=1.0):
    arrays = [(rng.standard_normal(s) * scale).astype(np.float32) for s in shapes]
    return ([sk.tensor(a, requires_grad=True) for a in arrays],
            [torch.tensor(a, requires_grad=True) for a in arrays])


def workloads(rng):
    rows = 8 * 128
    (x, w, b), (xt, wt, bt) = leaves(rng, (rows, 768), (3072, 768), (3072,), scale=0.05)
    yield ("linear (1024, 768) -> 3072, fwd+bwd",
           *fwd_bwd(F.linear, torch.nn.functional.linear, [x, w, b], [xt, wt, bt],
                    rng.standard_normal((rows, 3072)).astype(np.float32)))

    (x, w, b), (xt, wt, bt) = leaves(rng, (rows, 768), (768,), (768,))
    yield ("layer_norm (1024, 768), fwd+bwd",
           *fwd_bwd(lambda a, c, d: F.layer_norm(a, (768,), c, d),
                    lambda a, c, d: torch.nn.functional.layer_norm(a, (768,), c, d), [x, w, b], [xt, wt, bt],
                    rng.standard_normal((rows, 768)).astype(np.float32)))

    for n, c in ((2048, 30000), (4096, 9)):
        (z,), (zt,) = leaves(rng, (n, c), scale=3.0)
        target = rng.integers(0, c, n)
        t_ours, t_torch = sk.tensor(target), torch.tensor(target)
        yield (f"cross_entropy ({n}, {c}), fwd+bwd",
               *fwd_bwd(lambda a: F.cross_entropy(a, t_ours), lambda a: torch.nn.functional.cross_entropy(a, t_torch),
                        [z], [zt], np.float32(1.0)))

    yield ("MLP step 768-3072-768-10, batch 256, Adam", *mlp_step(rng))


def mlp_step(rng):
    sizes = (768, 3072, 768, 10)
    batch = 256
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch)

    def build(nn):
        return nn.Sequential(nn.Linear(sizes[0], sizes[1]), nn.GELU(), nn.Linear(sizes[1], sizes[2]), nn.GELU(),
                             nn.Linear(sizes[2], sizes[3]))

    ours = build(sk.nn)
    theirs = build(torch.nn)
    theirs.load_state_dict({k: torch.tensor(v) for k, v in ours.state_dict().items()})
    opt, opt_t = sk.optim.Adam(ours.parameters(), lr=1e-4), torch.optim.Adam(theirs.parameters(), lr=1e-4)
    x_ours, y_ours, x_torch, y_torch = sk.tensor(x), sk.tensor(y), torch.tensor(x), torch.tensor(y)

    def step_ours():
        opt.zero_grad()
        F.cross_entropy(ours(x_ours), y_ours).backward()
        opt.step()

    def step_torch():
        opt_t.zero_grad()
        torch.nn.functional.cross_entropy(theirs(x_torch), y_torch).backward()
        opt_t.step()

    return step_ours, step_torch


def overhead_workloads(rng):
    a, b = sk.tensor(rng.standard_normal(4).astype(np.float32)), sk.tensor(rng.standard_normal(4).astype(np.float32))
    at, bt = torch.tensor(a.numpy()), torch.tensor(b.numpy())
    yield "add (4,) + (4,)", lambda: a + b, lambda: at + bt
    (x, w, bias), (xt, wt, bt2) = leaves(rng, (2, 4), (3, 4), (3,))
    yield "linear (2, 4) -> 3, forward", lambda: F.linear(x, w, bias), lambda: torch.nn.functional.linear(xt, wt, bt2)
    z = sk.tensor(rng.standard_normal((2, 5)).astype(np.float32))
    zt = torch.tensor(z.numpy())
    t, tt = sk.tensor(np.array([1, 3])), torch.tensor([1, 3])
    yield "cross_entropy (2, 5), forward", lambda: F.cross_entropy(z, t), lambda: torch.nn.functional.cross_entropy(zt, tt)
    yield ("linear (2, 4) -> 3, fwd+bwd",
           *fwd_bwd(F.linear, torch.nn.functional.linear, [x, w, bias], [xt, wt, bt2],
                    rng.standard_normal((2, 3)).astype(np.float32)))


def main():
    p = benchmark_arguments(rounds=5)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    rows, overhead = [], []
    with thread_limit(args.threads):
        for name, ours, theirs in workloads(rng):
            t = median_times({"ours": ours, "torch": theirs}, rounds=args.rounds, min_time=0.2)
            rows.append([name, f"{t['ours'] * 1e3:.2f}", f"{t['torch'] * 1e3:.2f}", ratio(t["torch"], t["ours"])])
            print(rows[-1])
    with thread_limit(1):  # dispatch cost alone: no thread pool wake-ups on either side
        for name, ours, theirs in overhead_workloads(rng):
            for _ in range(OVERHEAD_WARMUP_CALLS):  # the sizing call of median_times must not be a cold one
                ours()
                theirs()
            t = median_times({"ours": ours, "torch": theirs}, rounds=args.rounds, min_time=0.05)
            overhead.append([name, f"{t['ours'] * 1e6:.1f}", f"{t['torch'] * 1e6:.1f}", ratio(t["torch"], t["ours"])])
            print(overhead[-1])
    text = (f"## Core ops (`benchmarks/bench_core.py`)\n\nMachine: {machine_description()}; {args.threads} threads; "
            f"torch {torch.__version__}. Forward + backward through each library's autograd (gradients of every "
            f"input), medians of {args.rounds} alternating rounds. Ratio: torch time / seqkernels time.\n\n"
            + format_table(["workload", "seqkernels ms", "torch ms", "ratio"], rows)
            + "\n\nPer-op Python overhead on tiny inputs (the whole call, microseconds, 1 thread):\n\n"
            + format_table(["op", "seqkernels us", "torch us", "ratio"], overhead) + "\n")
    publish(__file__, "core", text, args.no_write)


if __name__ == "__main__":
    main()
