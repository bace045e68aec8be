"""embedding: seqkernels vs torch, forward and forward+backward (dense and sparse gradients), same threads, one
process, alternating.

    python benchmarks/bench_embedding.py [--threads 2] [--rounds 7] [--no-write]

Prints the table and rewrites the embedding section of benchmarks/RESULTS.md.
"""

import numpy as np
import torch

import seqkernels as sk
import seqkernels.functional as F
from seqkernels.benchmarking import (format_table, fwd_bwd, machine_description, median_times, ratio, thread_limit,
                                     benchmark_arguments, publish)

# (num_embeddings, dim, ids shape, note)
SHAPES = [
    (30000, 256, (64, 256), "issue target"),
    (250000, 128, (32, 128), "large vocabulary"),
    (30000, 768, (8, 512), "BERT-sized rows"),
]


def workloads(shape, sparse, rng):
    vocab, dim, ids_shape, _ = shape
    table = rng.standard_normal((vocab, dim), dtype=np.float32)
    ids = rng.integers(0, vocab, ids_shape)
    dy = rng.standard_normal(ids_shape + (dim,), dtype=np.float32)
    ws, wt, ids_t = sk.tensor(table, requires_grad=True), torch.tensor(table, requires_grad=True), torch.tensor(ids)
    sk_fwd_bwd, torch_fwd_bwd = fwd_bwd(lambda w: F.embedding(ids, w, sparse=sparse),
                                        lambda w: torch.nn.functional.embedding(ids_t, w, sparse=sparse),
                                        [ws], [wt], dy)

    if sparse:
        return {"sk": sk_fwd_bwd, "torch": torch_fwd_bwd}

    def sk_fwd():
        return F.embedding(ids, table)

    def torch_fwd():
        with torch.no_grad():
            return torch.nn.functional.embedding(ids_t, wt)

    return {"sk fwd": sk_fwd, "torch fwd": torch_fwd, "sk": sk_fwd_bwd, "torch": torch_fwd_bwd}


def main():
    p = benchmark_arguments(rounds=7)
    args = p.parse_args()
    rng = np.random.default_rng(0)
    rows = []
    with thread_limit(args.threads):
        for shape in SHAPES:
            dense = median_times(workloads(shape, False, rng), rounds=args.rounds)
            sparse = median_times(workloads(shape, True, rng), rounds=args.rounds)
            vocab, dim, ids_shape, note = shape
            rows.append([f"table ({vocab}, {dim}), ids {ids_shape}", note,
                         f"{dense['sk fwd'] * 1e3:.2f}", f"{dense['torch fwd'] * 1e3:.2f}",
                         ratio(dense["torch fwd"], dense["sk fwd"]),
                         f"{dense['sk'] * 1e3:.2f}", f"{dense['torch'] * 1e3:.2f}", ratio(dense["torch"], dense["sk"]),
                         f"{sparse['sk'] * 1e3:.2f}", f"{sparse['torch'] * 1e3:.2f}",
                         ratio(sparse["torch"], sparse["sk"])])
    table = format_table(["shape", "note", "sk fwd ms", "torch fwd ms", "fwd ratio", "sk fwd+bwd ms",
                          "torch fwd+bwd ms", "dense ratio", "sk sparse fwd+bwd ms", "torch sparse fwd+bwd ms",
                          "sparse ratio"], rows)
    text = (f"## embedding (`benchmarks/bench_embedding.py`)\n\nMachine: {machine_description()}; {args.threads} "
            f"threads; torch {torch.__version__}. Ratios: torch time / seqkernels time (above 1: seqkernels faster), "
            f"medians of {args.rounds} alternating rounds. fwd+bwd: lookup, then the table's gradient through "
            f"autograd, dense (a full table-sized gradient) or sparse=True (only the rows looked up: seqkernels' "
            f"SparseGrad, torch's sparse COO tensor).\n\n{table}\n")
    publish(__file__, "embedding", text, args.no_write)


if __name__ == "__main__":
    main()
