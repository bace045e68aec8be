"""conv1d: seqkernels vs torch (oneDNN), forward and forward+backward, same threads, one process, alternating.

    python benchmarks/bench_conv1d.py [--threads 2] [--rounds 7] [--no-write]

Forward runs without a graph (torch.no_grad, plain arrays for seqkernels); forward+backward goes through each
library's autograd with input, weight and bias requiring grad. Prints the table and rewrites the conv1d section of
benchmarks/RESULTS.md.
"""

import numpy as np
import torch

import seqkernels as sk
import seqkernels.functional as F
from seqkernels.benchmarking import (format_table, fwd_bwd, machine_description, median_times, ratio, thread_limit,
                                     benchmark_arguments, publish)

# (N, C_in, L, C_out, K, padding, groups, channels_last, note); channels_last: x is given to both libraries as
# the transpose (0, 2, 1) of a C-contiguous (N, L, C_in) array, as embedding(ids).transpose(1, 2) makes it
SHAPES = [
    (32, 128, 256, 128, 5, 2, 1, False, "issue target"),
    (64, 300, 100, 100, 3, 1, 1, False, "issue target (Kim: word2vec dim 300)"),
    (64, 128, 50, 100, 4, 0, 1, False, "TextCNN branch"),
    (64, 128, 50, 100, 4, 0, 1, True, "TextCNN branch, channels-last input"),
    (32, 64, 150, 64, 5, 0, 1, True, "seqkernels train default, channels-last input"),
    (32, 512, 128, 512, 1, 0, 1, False, "K = 1 (pointwise)"),
    (16, 256, 512, 256, 7, 3, 1, False, "long sequence, K = 7"),
    (32, 256, 128, 256, 7, 3, 256, False, "depthwise"),
]


def workloads(shape, rng):
    n, c, length, o, k, pad, groups, channels_last, _ = shape
    x = rng.standard_normal((n, c, length), dtype=np.float32)
    if channels_last:
        x = np.ascontiguousarray(x.transpose(0, 2, 1)).transpose(0, 2, 1)
    w = rng.standard_normal((o, c // groups, k), dtype=np.float32) * np.float32(1 / np.sqrt(c // groups * k))
    b = rng.standard_normal(o, dtype=np.float32)
    dy = rng.standard_normal((n, o, length + 2 * pad - k + 1), dtype=np.float32)
    xs, ws, bs = (sk.tensor(a, requires_grad=True) for a in (x, w, b))
    xt, wt, bt = (torch.from_numpy(a.copy(order="K")).requires_grad_() for a in (x, w, b))  # x's strides kept

    def sk_fwd():
        return F.conv1d(x, w, b, padding=pad, groups=groups)

    def torch_fwd():
        with torch.no_grad():
            return torch.nn.functional.conv1d(xt, wt, bt, padding=pad, groups=groups)

    sk_fwd_bwd, torch_fwd_bwd = fwd_bwd(lambda *a: F.conv1d(*a, padding=pad, groups=groups),
                                        lambda *a: torch.nn.functional.conv1d(*a, padding=pad, groups=groups),
                                        [xs, ws, bs], [xt, wt, bt], dy)
    return {"sk fwd": sk_fwd, "torch fwd": torch_fwd, "sk fwd+bwd": sk_fwd_bwd, "torch fwd+bwd": torch_fwd_bwd}


def main():
    p = benchmark_arguments(rounds=7)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    with thread_limit(args.threads):
        for shape in SHAPES:
            n, c, length, o, k, pad, groups, _, note = shape
            t = median_times(workloads(shape, rng), rounds=args.rounds)
            flops = 2.0 * n * o * c // groups * k * (length + 2 * pad - k + 1)
            rows.append([f"x ({n}, {c}, {length}), w ({o}, {c // groups}, {k}), pad {pad}"
                         + (f", groups {groups}" if groups > 1 else ""), note,
                         f"{t['sk fwd'] * 1e3:.2f}", f"{t['torch fwd'] * 1e3:.2f}", ratio(t["torch fwd"], t["sk fwd"]),
                         f"{t['sk fwd+bwd'] * 1e3:.2f}", f"{t['torch fwd+bwd'] * 1e3:.2f}",
                         ratio(t["torch fwd+bwd"], t["sk fwd+bwd"]), f"{3 * flops / t['sk fwd+bwd'] / 1e9:.0f}"])
    table = format_table(["shape", "note", "sk fwd ms", "torch fwd ms", "fwd ratio", "sk fwd+bwd ms",
                          "torch fwd+bwd ms", "fwd+bwd ratio", "sk fwd+bwd GFLOP/s"], rows)
    text = (f"## conv1d (`benchmarks/bench_conv1d.py`)\n\nMachine: {machine_description()}; {args.threads} threads; "
            f"torch {torch.__version__}. Ratios: torch time / seqkernels time (above 1: seqkernels faster), medians "
            f"of {args.rounds} alternating rounds. Forward without a graph; forward+backward through autograd with "
            f"input, weight and bias requiring grad.\n\n{table}\n")
    publish(__file__, "conv1d", text, args.no_write)


if __name__ == "__main__":
    main()
