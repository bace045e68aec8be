"""The runtime-dispatching build vs the native (-march=native) build on the workloads of bench_gemm,
bench_rnn and bench_attention, each build in its own child processes, alternating, medians.

    pip install --target /tmp/sk-native --no-deps . -Ccmake.define.SEQKERNELS_NATIVE=ON
    pip install --target /tmp/sk-dispatch --no-deps .
    python benchmarks/bench_dispatch.py --native /tmp/sk-native --dispatch /tmp/sk-dispatch [--threads 2]

Ratio: native time / dispatching time (1.00 = as fast; the issue's bar is within 3 %, i.e. >= 0.97).
Rewrites the dispatch section of benchmarks/RESULTS.md.
"""
import json
import os
import statistics
import subprocess
import sys

from seqkernels.benchmarking import benchmark_arguments, machine_description, publish

# One child: times every workload (median of `reps` after a warm-up) and prints {name: seconds}.
CHILD = r"""
import json, sys, time
import numpy as np
import seqkernels as sk
import seqkernels.functional as F
threads, reps = int(sys.argv[1]), int(sys.argv[2])
sk.set_num_threads(threads)
rng = np.random.default_rng(0)

def timed(fn):
    fn(); fn()
    times = []
    for _ in range(reps):
        start = time.perf_counter(); fn(); times.append(time.perf_counter() - start)
    return sorted(times)[len(times) // 2]

def gemm(m, n, k):
    a, b = rng.standard_normal((m, k), dtype=np.float32), rng.standard_normal((k, n), dtype=np.float32)
    return lambda: sk.matmul(a, b)

def lstm_fwd_bwd():
    layer = sk.nn.LSTM(256, 256, batch_first=True)
    x = sk.tensor(rng.standard_normal((32, 64, 256), dtype=np.float32), requires_grad=True)
    def step():
        out, _ = layer(x)
        out.sum().backward()
    return step

def attention_fwd_bwd(causal):
    q, k, v = (sk.tensor(rng.standard_normal((4, 8, 512, 64), dtype=np.float32), requires_grad=True) for _ in range(3))
    def step():
        F.scaled_dot_product_attention(q, k, v, is_causal=causal).sum().backward()
    return step

work = {"gemm 1024^3": gemm(1024, 1024, 1024), "gemm 8192x768x768": gemm(8192, 768, 768),
        "gemm 64x1024x256 (LSTM step)": gemm(64, 1024, 256), "LSTM 256 fwd+bwd (32x64)": lstm_fwd_bwd(),
        "attention fwd+bwd (4,8,512,64)": attention_fwd_bwd(False),
        "attention causal fwd+bwd (4,8,512,64)": attention_fwd_bwd(True)}
print(json.dumps({"isa": sk.build_info()["isa"], **{name: timed(fn) for name, fn in work.items()}}))
"""


def child(path, threads, reps):
    env = dict(os.environ, PYTHONPATH=path, OMP_NUM_THREADS=str(threads))
    env.pop("SEQKERNELS_ISA", None)
    done = subprocess.run([sys.executable, "-c", CHILD, str(threads), str(reps)], env=env, capture_output=True,
                          text=True, check=True)
    return json.loads(done.stdout.strip().splitlines()[-1])


def main():
    p = benchmark_arguments(rounds=5)
    p.add_argument("--native", required=True, help="folder holding a SEQKERNELS_NATIVE=ON seqkernels package")
    p.add_argument("--dispatch", required=True, help="folder holding the default (dispatching) seqkernels package")
    p.add_argument("--reps", type=int, default=5)
    args = p.parse_args()
    runs = {"native": [], "dispatch": []}
    for _ in range(args.rounds):
        for build, path in (("native", args.native), ("dispatch", args.dispatch)):
            runs[build].append(child(path, args.threads, args.reps))
    isa = {build: runs[build][0]["isa"] for build in runs}
    rows = ["| workload | native ms | dispatching ms | native / dispatching |", "|---|---:|---:|---:|"]
    for name in runs["native"][0]:
        if name == "isa":
            continue
        native = statistics.median(r[name] for r in runs["native"])
        dispatch = statistics.median(r[name] for r in runs["dispatch"])
        rows.append(f"| {name} | {native * 1e3:.2f} | {dispatch * 1e3:.2f} | {native / dispatch:.3f} |")
    text = (f"## Runtime ISA dispatch vs native (`benchmarks/bench_dispatch.py`)\n\nMachine: {machine_description()}; "
            f"{args.threads} threads; native build (`isa` {isa['native']}) vs the default build (`isa` "
            f"{isa['dispatch']} chosen at import); medians of {args.rounds} alternating child processes, each the "
            f"median of {args.reps} calls after a warm-up.\n\n" + "\n".join(rows) + "\n")
    publish(__file__, "dispatch", text, args.no_write)


if __name__ == "__main__":
    main()
