"""Fused attention and the Transformer encoder layer: seqkernels vs torch, same threads, one process,
alternating rounds; plus the peak extra memory of attention forward+backward as L grows.

    python benchmarks/bench_attention.py [--threads 2] [--rounds 5] [--no-write] [--skip-memory]

Prints the tables and rewrites the attention section of benchmarks/RESULTS.md.
"""
import subprocess
import sys

import numpy as np

import seqkernels as sk
import seqkernels.functional as F
from seqkernels.benchmarking import format_table, fwd_bwd, machine_description, median_times, ratio, thread_limit, \
    benchmark_arguments, publish

ATTENTION_SHAPES = [  # (B, H, L, D, causal)
    (8, 12, 512, 64, False), (8, 12, 512, 64, True), (4, 8, 2048, 64, False), (4, 8, 2048, 64, True),
]
MEMORY_LENGTHS = [1024, 2048, 4096, 8192, 16384]

# Run in a fresh interpreter per length, the inputs and gradient seed allocated and touched first: the figure
# is how far the resident set grows during one forward+backward (sampled while it runs).
MEMORY_PROBE = r"""
import sys
import numpy as np
import seqkernels as sk, seqkernels.functional as F
from seqkernels.benchmarking import rss_growth
sk.set_num_threads(int(sys.argv[2]))
L, D = int(sys.argv[1]), 64
rng = np.random.default_rng(0)
q, k, v, g = (rng.standard_normal((1, 1, L, D), dtype=np.float32) for _ in range(4))
tq, tk, tv = (sk.tensor(x, requires_grad=True) for x in (q, k, v))
F.scaled_dot_product_attention(tq[:, :, :64], tk[:, :, :64], tv[:, :, :64], is_causal=True).backward(g[:, :, :64])
print(rss_growth(lambda: F.scaled_dot_product_attention(tq, tk, tv, is_causal=True).backward(g)))
"""


def attention_rows(threads, rounds):
    import torch
    rows = []
    for B, H, L, D, causal in ATTENTION_SHAPES:
        rng = np.random.default_rng(0)
        q, k, v, g = (rng.standard_normal((B, H, L, D), dtype=np.float32) for _ in range(4))
        tq, tk, tv = (sk.tensor(x, requires_grad=True) for x in (q, k, v))
        pq, pk, pv = (torch.tensor(x, requires_grad=True) for x in (q, k, v))

        def ours_fwd():
            with sk.no_grad():
                F.scaled_dot_product_attention(tq, tk, tv, is_causal=causal)

        def torch_fwd():
            with torch.no_grad():
                torch.nn.functional.scaled_dot_product_attention(pq, pk, pv, is_causal=causal)

        ours_step, torch_step = fwd_bwd(lambda *a: F.scaled_dot_product_attention(*a, is_causal=causal),
                                        lambda *a: torch.nn.functional.scaled_dot_product_attention(*a, is_causal=causal),
                                        [tq, tk, tv], [pq, pk, pv], g)

        with thread_limit(threads):
            t = median_times({"ours_fwd": ours_fwd, "torch_fwd": torch_fwd, "ours": ours_step, "torch": torch_step},
                             rounds=rounds)
        # useful FLOPs: forward 2 GEMMs (QKᵀ, PV), backward 4 (dV, dP, dQ, dK); causal does about half
        fwd_flops = 4 * B * H * L * L * D * (0.5 if causal else 1.0)
        rows.append([f"({B}, {H}, {L}, {D})", "causal" if causal else "full",
                     f"{t['ours_fwd'] * 1e3:.1f}", f"{t['torch_fwd'] * 1e3:.1f}", ratio(t["torch_fwd"], t["ours_fwd"]),
                     f"{t['ours'] * 1e3:.1f}", f"{t['torch'] * 1e3:.1f}", ratio(t["torch"], t["ours"]),
                     f"{3 * fwd_flops / t['ours'] / 1e9:.0f}"])
    return format_table(["(B, H, L, D)", "mask", "fwd ours ms", "fwd torch ms", "fwd ratio", "fwd+bwd ours ms",
                         "fwd+bwd torch ms", "fwd+bwd ratio", "ours GFLOP/s (fwd+bwd)"], rows)


def memory_rows(threads):
    rows = []
    for L in MEMORY_LENGTHS:
        out = subprocess.run([sys.executable, "-c", MEMORY_PROBE, str(L), str(threads)], check=True,
                             capture_output=True, text=True)
        extra = int(out.stdout.split()[-1])
        outputs = 4 * L * 64 * 4 + L * 4  # out, dq, dk, dv (L x 64 each) and lse
        rows.append([L, f"{extra / 2**20:.1f}", f"{outputs / 2**20:.1f}", f"{L * L * 4 / 2**20:.0f}"])
    return format_table(["L", "peak RSS growth MiB", "of which outputs MiB", "an L x L float32 matrix MiB"], rows)


def encoder_layer_row(threads, rounds):
    import torch
    B, L, d, heads, ff = 8, 128, 768, 12, 3072
    ref = torch.nn.TransformerEncoderLayer(d, heads, dim_feedforward=ff, dropout=0.0, batch_first=True)
    ours = sk.nn.TransformerEncoderLayer(d, heads, dim_feedforward=ff, dropout=0.0, batch_first=True)
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    rng = np.random.default_rng(0)
    x, g = (rng.standard_normal((B, L, d), dtype=np.float32) for _ in range(2))
    tx, px, pg = sk.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True), torch.from_numpy(g)

    def ours_step():
        ours(tx).backward(g)

    def torch_step():
        ref(px).backward(pg)

    with thread_limit(threads):
        t = median_times({"ours": ours_step, "torch": torch_step}, rounds=rounds)
    return format_table(["layer (B=8, L=128, d=768, 12 heads, ff 3072, dropout 0)", "ours ms", "torch ms",
                         "ratio"],
                        [["TransformerEncoderLayer fwd+bwd", f"{t['ours'] * 1e3:.1f}", f"{t['torch'] * 1e3:.1f}",
                          ratio(t["torch"], t["ours"])]])


def main():
    p = benchmark_arguments(rounds=5)
    p.add_argument("--skip-memory", action="store_true")
    args = p.parse_args()
    parts = [f"## Fused attention (`benchmarks/bench_attention.py`)\n\nMachine: {machine_description()}; "
             f"{args.threads} threads; medians of {args.rounds} alternating rounds; ratio = torch time / "
             f"seqkernels time (torch runs its own CPU flash-attention kernel).\n",
             attention_rows(args.threads, args.rounds), "", encoder_layer_row(args.threads, args.rounds)]
    if not args.skip_memory:
        parts += ["", "Peak memory growth during one causal forward+backward, B = H = 1, D = 64 (fresh process "
                  "per L, resident set sampled while it runs, inputs already allocated). It grows linearly in L: "
                  "nothing of size L x L is allocated.\n", memory_rows(args.threads)]
    text = "\n".join(parts) + "\n"
    publish(__file__, "attention", text, args.no_write)


if __name__ == "__main__":
    main()
