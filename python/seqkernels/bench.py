"""``seqkernels bench``: build info, the measured FMA peak, and GEMM against numpy and torch."""
from __future__ import annotations

import numpy as np

import seqkernels as sk

from ._C import gemm, measure_fma_peak
from .benchmarking import format_table, have, machine_description, median_times, thread_limit

DEFAULT_SHAPES = [(2048, 2048, 2048), (256, 256, 256), (64, 1024, 256)]


def gemm_rows(shapes, threads: int, peak: float, rounds: int = 7, seed: int = 0):
    """One row per (M, N, K): our GFLOP/s, fraction of peak, and ratios against numpy/torch."""
    rng = np.random.default_rng(seed)
    torch = None
    if have("torch"):
        import torch
    rows = []
    with thread_limit(threads):
        for M, N, K in shapes:
            a = rng.standard_normal((M, K), dtype=np.float32)
            b = rng.standard_normal((K, N), dtype=np.float32)
            contenders = {"seqkernels": lambda: gemm(a, b), "numpy": lambda: a @ b}
            if torch is not None:
                ta, tb = torch.from_numpy(a), torch.from_numpy(b)
                contenders["torch"] = lambda: torch.matmul(ta, tb)
            t = median_times(contenders, rounds=rounds)
            flops = 2.0 * M * N * K
            ours = flops / t["seqkernels"] * 1e-9
            rows.append({
                "shape": f"{M}x{N}x{K}", "gflops": ours, "peak_fraction": ours / peak,
                "numpy_gflops": flops / t["numpy"] * 1e-9, "vs_numpy": t["numpy"] / t["seqkernels"],
                "torch_gflops": flops / t["torch"] * 1e-9 if "torch" in t else None,
                "vs_torch": t["torch"] / t["seqkernels"] if "torch" in t else None,
            })
    return rows


def gemm_table(rows) -> str:
    fmt = lambda x: "-" if x is None else f"{x:.1f}"
    return format_table(
        ["M x N x K", "seqkernels GFLOP/s", "% of peak", "numpy GFLOP/s", "vs numpy", "torch GFLOP/s", "vs torch"],
        [[r["shape"], fmt(r["gflops"]), f"{100 * r['peak_fraction']:.0f}%", fmt(r["numpy_gflops"]),
          f"{r['vs_numpy']:.2f}x", fmt(r["torch_gflops"]), "-" if r["vs_torch"] is None else f"{r['vs_torch']:.2f}x"]
         for r in rows])


def run(threads: int | None = None, shapes=None) -> None:
    threads = threads or sk.get_num_threads()
    info = sk.build_info()
    print("seqkernels", info["version"], "on", machine_description())
    for key, value in info.items():
        print(f"  {key:18s} {value}")
    peak = max(measure_fma_peak(threads, 0.2) for _ in range(5))  # best of 5: the machine is shared
    print(f"\nFP32 FMA peak, {threads} thread(s): {peak:.1f} GFLOP/s (measured, best of 5 probes)")
    print(f"\nGEMM C = A @ B, float32, {threads} thread(s); ratios are reference time / seqkernels time "
          "(above 1: seqkernels faster); medians of 7 alternating rounds\n")
    print(gemm_table(gemm_rows(shapes or DEFAULT_SHAPES, threads, peak)))
