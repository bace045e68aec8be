"""What examples/ner.py, sentiment.py and qa_retrieval.py share: their command line, the timing of each
training run (wall seconds and the process's CPU share, CPU seconds / wall seconds: the machine may be shared)
and the side-by-side table of ours and PyTorch's results. Not an application: a helper of the scripts."""
import argparse
import json
import os
import sys
import time

# benchmarks/torch_apps.py holds the PyTorch twins of the applications' training loops
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "benchmarks"))


def parser(doc, models=None):
    """The options every example takes (plus --models when it trains several)."""
    p = argparse.ArgumentParser(description=doc.splitlines()[0])
    if models:
        p.add_argument("--models", nargs="+", choices=models, default=list(models))
    p.add_argument("--frameworks", nargs="+", choices=("ours", "torch"), default=["ours", "torch"],
                   help="train with seqkernels, the PyTorch reference, or both (default; one process each keeps "
                        "a run short on a busy machine)")
    p.add_argument("--threads", type=int, default=2, help="threads for both frameworks (default: 2)")
    p.add_argument("--json", help="write the results here")
    return p


def set_threads(args) -> None:
    import seqkernels as sk

    sk.set_num_threads(args.threads)
    if "torch" in args.frameworks:
        import torch

        torch.set_num_threads(args.threads)


def timed(fn, *args, **kwargs):
    """(fn's result, {"wall_seconds", "cpu_share", "load_average", "omp_wait_policy"}) of the whole call (training
    and its evaluation): the 1-minute load average before and after (this run counts in it) and the OpenMP wait
    policy the process runs with (`import seqkernels` may have set it; "unset" is libgomp's default, spinning)."""
    load, wall, cpu = os.getloadavg()[0], time.perf_counter(), sum(os.times()[:2])
    out = fn(*args, **kwargs)
    wall, cpu = time.perf_counter() - wall, sum(os.times()[:2]) - cpu
    return out, {"wall_seconds": round(wall, 1), "cpu_share": round(cpu / wall, 2) if wall > 0 else float("nan"),
                 "load_average": [round(load, 2), round(os.getloadavg()[0], 2)],
                 "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY", "unset")}


def table(rows, columns) -> str:
    """rows: [{"model", "ours": {...}, "torch": {...} (optional)}]; columns: [(header, ours' or torch's key
    path as a tuple)] -> a fixed-width table, ours' and torch's value side by side for each column."""
    def get(result, path):
        for key in path:
            if result is None or key not in result:
                return float("nan")
            result = result[key]
        return result

    heads = ["model"] + [f"{who} {h}" for h, _ in columns for who in ("ours", "torch")]
    lines = ["  ".join(f"{h:>12}" for h in heads)]
    for r in rows:
        cells = [f"{r['model']:>12}"] + [f"{get(r.get(who), path):12.3f}" for _, path in columns
                                         for who in ("ours", "torch")]
        lines.append("  ".join(cells))
    return "\n".join(lines)


def finish(args, rows, columns) -> None:
    print("\n" + table(rows, columns))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(rows, fh, indent=1)
