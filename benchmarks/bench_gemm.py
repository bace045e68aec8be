"""GEMM: seqkernels vs numpy (OpenBLAS) and torch.matmul, same threads, one process, alternating rounds.

    python benchmarks/bench_gemm.py [--threads 2] [--no-write]

Prints the table and rewrites the GEMM section of benchmarks/RESULTS.md.
"""

import seqkernels as sk
from seqkernels._C import measure_fma_peak
from seqkernels.bench import gemm_rows, gemm_table
from seqkernels.benchmarking import machine_description, benchmark_arguments, publish

SHAPES = [
    (2048, 2048, 2048), (1024, 1024, 1024), (512, 512, 512), (256, 256, 256), (128, 128, 128),
    (64, 1024, 256),    # LSTM step: batch 64, 4 gates x 256 hidden, input 256
    (64, 4096, 1024),   # LSTM step, larger
    (128, 64, 128),     # attention tile: 128 queries x 64 keys, D = 128
    (8192, 768, 768),   # BERT-base projection, 64 x 128 tokens
    (1, 1024, 1024),    # GEMV-like
    (2048, 1, 2048),
]


def main():
    p = benchmark_arguments(rounds=9)
    args = p.parse_args()
    peak = max(measure_fma_peak(args.threads, 0.2) for _ in range(5))
    rows = gemm_rows(SHAPES, args.threads, peak, rounds=args.rounds)
    table = gemm_table(rows)
    text = (f"## GEMM (`benchmarks/bench_gemm.py`)\n\nMachine: {machine_description()}; "
            f"build: {sk.build_info()['gemm_kernel']}; {args.threads} threads; measured FP32 FMA peak "
            f"{peak:.0f} GFLOP/s (best of 5 probes). Ratios: reference time / seqkernels time, medians of {args.rounds} "
            f"alternating rounds.\n\n{table}\n")
    publish(__file__, "gemm", text, args.no_write)


if __name__ == "__main__":
    main()
