"""Data-parallel scaling of our own fit over MPI: the TextCNN job (BBC, `seqkernels train` defaults, global
batch 64) on 1 process vs 2 processes (batch 32 each), 1 kernel thread per process, seconds per epoch
after the first, alternating runs, medians.

    python benchmarks/bench_distributed.py [--rounds 3]      # needs seqkernels[distributed]

Rewrites the distributed section of benchmarks/RESULTS.md.
"""
import os
import shutil
import statistics
import subprocess
import sys
from pathlib import Path

from seqkernels.benchmarking import benchmark_arguments, machine_description, publish

# One rank's job: prints the seconds of the last epoch on rank 0.
WORKER = r"""
import sys, time
import numpy as np
import seqkernels as sk
import seqkernels.distributed as dist
from seqkernels.callbacks import Callback
from seqkernels.data import load_bbc_news
from seqkernels.preprocessing.text import Tokenizer
from seqkernels.text_classifier import encode
sk.set_num_threads(1)
batch, distributed = int(sys.argv[1]), sys.argv[2] == "1"
if distributed:
    dist.init()
texts, labels = load_bbc_news()
classes = sorted(set(labels))
y = np.array([classes.index(l) for l in labels], dtype=np.int64)
tok = Tokenizer(num_words=10000, oov_token="<OOV>")
tok.fit_on_texts(texts)
x = encode(tok, texts, 150)
sk.manual_seed(0)
model = sk.models.TextCNN(10000, embed_dim=64, num_classes=len(classes), num_filters=64)
model.compile(optimizer=sk.optim.Adam(model.parameters(), lr=5e-3),
              loss=sk.losses.SparseCategoricalCrossentropy(from_logits=True))
class EpochTimer(Callback):
    def on_epoch_begin(self, epoch, logs=None): self.start = time.perf_counter()
    def on_epoch_end(self, epoch, logs=None): self.seconds = time.perf_counter() - self.start
timer = EpochTimer()
model.fit(x[:1780], y[:1780], batch_size=batch, epochs=2, verbose=0, callbacks=[timer])
if dist.rank() == 0:
    print(timer.seconds)
"""


def run(processes: int) -> float:
    env = dict(os.environ, OMP_NUM_THREADS="1")
    command = [sys.executable, "-c", WORKER, str(64 // processes), "1" if processes > 1 else "0"]
    if processes > 1:
        local = Path(sys.executable).parent / "mpiexec"
        mpiexec = str(local) if local.exists() else shutil.which("mpiexec")
        command = [mpiexec, "-n", str(processes), "-hosts", "127.0.0.1"] + command
    done = subprocess.run(command, env=env, capture_output=True, text=True, check=True, timeout=900)
    return float(done.stdout.strip().splitlines()[-1])


def main():
    p = benchmark_arguments(rounds=3)
    args = p.parse_args()
    times = {1: [], 2: []}
    for _ in range(args.rounds):
        for processes in (1, 2):
            times[processes].append(run(processes))
    one, two = statistics.median(times[1]), statistics.median(times[2])
    text = (f"## Data-parallel fit over MPI (`benchmarks/bench_distributed.py`)\n\nMachine: {machine_description()}; "
            f"TextCNN on 1,780 BBC articles (embed 64, 64 filters of widths 3/4/5, Adam), global batch 64, "
            f"1 kernel thread per process; seconds for the second epoch, medians of {args.rounds} alternating "
            f"runs.\n\n| processes | batch per process | s / epoch | speed-up |\n|---:|---:|---:|---:|\n"
            f"| 1 | 64 | {one:.2f} | 1.00 |\n| 2 | 32 | {two:.2f} | {one / two:.2f} |\n")
    publish(__file__, "distributed", text, args.no_write)


if __name__ == "__main__":
    main()
