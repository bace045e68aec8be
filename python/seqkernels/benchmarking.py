"""Timing helpers shared by ``seqkernels bench`` and the scripts in ``benchmarks/``.

How we measure (DESIGN.md): every contender runs the same workload in one process at the same thread
count; rounds alternate between contenders so that machine noise hits all of them alike; each round
repeats a call until it lasts ``min_time``; the figure is the median over rounds. Between contenders the
process idles for ``settle`` seconds: thread pools busy-wait after a call (OpenBLAS's workers spin for
about 0.1 s), and without the pause a library's spinning workers take the cores of the one timed next.
"""
from __future__ import annotations

import contextlib
import importlib.util
import os
import platform
import statistics
import time
from typing import Callable, Dict, Optional


def median_times(contenders: Dict[str, Callable[[], object]], rounds: int = 7,
                 min_time: float = 0.05, settle: float = 0.2) -> Dict[str, float]:
    """Median seconds per call of each contender, alternating contenders round by round."""
    calls = {}
    for name, fn in contenders.items():  # warm up and size the inner loop of each contender
        fn()
        t0 = time.perf_counter()
        fn()
        one = max(time.perf_counter() - t0, 1e-7)
        calls[name] = max(1, int(min_time / one))
    samples = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            n = calls[name]
            time.sleep(settle)
            t0 = time.perf_counter()
            for _ in range(n):
                fn()
            samples[name].append((time.perf_counter() - t0) / n)
    return {name: statistics.median(s) for name, s in samples.items()}


def have(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


@contextlib.contextmanager
def thread_limit(n: int):
    """Sets seqkernels, torch (if installed) and numpy's BLAS (via threadpoolctl, if installed) to n threads."""
    import seqkernels as sk
    old_sk = sk.get_num_threads()
    sk.set_num_threads(n)
    torch = None
    if have("torch"):
        import torch
        old_torch = torch.get_num_threads()
        torch.set_num_threads(n)
    limiter = contextlib.nullcontext()
    if have("threadpoolctl"):
        import threadpoolctl
        limiter = threadpoolctl.threadpool_limits(n)
    try:
        with limiter:
            yield
    finally:
        sk.set_num_threads(old_sk)
        if torch is not None:
            torch.set_num_threads(old_torch)


def machine_description() -> str:
    """The CPU as benchmark sections name it: model name, family/model numbers (a VM often hides the generation
    behind a bare "AMD EPYC"), the widest SIMD extension, logical CPUs, OS and architecture."""
    cpu, fields = platform.processor() or platform.machine(), {}
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                key = key.strip()
                if not line.strip():
                    break  # the first processor's block describes them all
                fields.setdefault(key, value.strip())
    except OSError:
        pass
    cpu = fields.get("model name", cpu)
    if "cpu family" in fields:
        cpu += f" (family {fields['cpu family']}, model {fields.get('model', '?')})"
    flags = set(fields.get("flags", "").split())
    simd = next((name for flag, name in (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("asimd", "NEON")) if flag in flags),
                None)
    return f"{cpu}{', ' + simd if simd else ''}, {os.cpu_count()} logical CPUs, {platform.system()} {platform.machine()}"


def format_table(headers, rows) -> str:
    cells = [[str(h) for h in headers]] + [[str(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |" for r in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def ratio(reference: Optional[float], ours: float) -> str:
    """reference time / our time: above 1 means seqkernels is faster."""
    return "-" if reference is None else f"{reference / ours:.2f}x"


def write_results_section(results_path, section: str, markdown: str) -> None:
    """Replaces (or appends) the block between ``<!-- section:start -->`` and ``<!-- section:end -->``
    in RESULTS.md, so each benchmark script owns its own section."""
    import pathlib

    path = pathlib.Path(results_path)
    start, end = f"<!-- {section}:start -->", f"<!-- {section}:end -->"
    block = f"{start}\n{markdown.rstrip()}\n{end}"
    text = path.read_text() if path.exists() else "# Benchmark results\n\nWritten by the scripts in `benchmarks/`.\n"
    if start in text and end in text:
        text = text[: text.index(start)] + block + text[text.index(end) + len(end):]
    else:
        text = text.rstrip() + "\n\n" + block + "\n"
    path.write_text(text)


def rss_growth(fn: Callable[[], object], interval: float = 0.0005) -> int:
    """Bytes by which the process's resident set grows while ``fn()`` runs, at its highest: a thread samples
    /proc/self/statm (Linux) while fn runs with the GIL released in kernels. Run it in a fresh process so
    that freed heap memory being reused does not hide allocations."""
    import threading

    page = os.sysconf("SC_PAGE_SIZE")

    def resident() -> int:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * page

    base, peak, done = resident(), [0], threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], resident())
            time.sleep(interval)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        fn()
    finally:
        done.set()
        sampler.join()
    return max(peak[0], resident()) - base


def benchmark_arguments(rounds: int = 7):
    """The options every script in benchmarks/ takes: --threads, --rounds, --no-write."""
    import argparse

    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2, help="threads for every contender")
    parser.add_argument("--rounds", type=int, default=rounds, help="alternating rounds; medians are quoted")
    parser.add_argument("--no-write", action="store_true", help="print only; leave benchmarks/RESULTS.md alone")
    return parser


def publish(script_file: str, section: str, markdown: str, no_write: bool) -> None:
    """Prints a script's results and, unless no_write, rewrites its section of the RESULTS.md beside it."""
    import pathlib

    print(markdown)
    if not no_write:
        write_results_section(pathlib.Path(script_file).with_name("RESULTS.md"), section, markdown)


def fwd_bwd(ours_fn, torch_fn, ours_inputs, torch_inputs, grad):
    """Two closures timing one forward + backward each: seqkernels' ``ours_fn(*ours_inputs)`` and torch's
    ``torch_fn(*torch_inputs)``, each backpropagating ``grad`` through a fresh graph with the inputs'
    gradients reset first (so neither side also pays for accumulating into old ones)."""
    import torch

    import seqkernels as sk

    g_ours, g_torch = sk.tensor(grad), torch.tensor(grad)

    def ours():
        for t in ours_inputs:
            t.grad = None
        ours_fn(*ours_inputs).backward(g_ours)

    def theirs():
        for t in torch_inputs:
            t.grad = None
        torch_fn(*torch_inputs).backward(g_torch)

    return ours, theirs
