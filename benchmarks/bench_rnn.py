"""RNN layers: sk.nn.LSTM / GRU vs torch.nn.LSTM / GRU (oneDNN on CPU), same weights, same threads, one process,
alternating rounds. Forward (no graph) and forward + backward (loss = output.sum()), batch_first inputs
(batch, length, features); the variable-length rows give each sequence a random length in [L/8, L] and
compare our `lengths=` argument with torch's pack_padded_sequence -> LSTM -> pad_packed_sequence path.

    python benchmarks/bench_rnn.py [--threads 2] [--rounds 5] [--no-write]

Prints the table and rewrites the RNN section of benchmarks/RESULTS.md.
"""

import numpy as np
import torch

import seqkernels as sk
from seqkernels._C import measure_fma_peak
from seqkernels.benchmarking import (format_table, machine_description, median_times, ratio, thread_limit,
                                     benchmark_arguments, publish)

WORKLOADS = [  # name, kind, input, hidden, layers, bidirectional, (batch, length), variable lengths
    ("LSTM 256->256", "LSTM", 256, 256, 1, False, (64, 128), False),
    ("LSTM 256->256, 2 layers, bidirectional", "LSTM", 256, 256, 2, True, (64, 128), False),
    ("LSTM 128->128 (small)", "LSTM", 128, 128, 1, False, (32, 50), False),
    ("GRU 256->256", "GRU", 256, 256, 1, False, (64, 128), False),
    ("LSTM 256->256, lengths vs packed", "LSTM", 256, 256, 1, False, (64, 128), True),
    ("biLSTM 256->256, lengths vs packed", "LSTM", 256, 256, 1, True, (64, 128), True),
]


def training_flops(kind, inp, hidden, layers, bidirectional, steps):
    """Multiply-add flops of forward + backward over `steps` (batch, time) rows: per layer and direction the
    forward's two GEMMs (x W_ih^T, h W_hh^T: 2 * steps * G*H * (I + H)) and three times that in backward
    (dh W_hh, dW_ih, dW_hh, dX)."""
    gates = {"LSTM": 4, "GRU": 3}[kind] * hidden
    directions = 2 if bidirectional else 1
    total = 0
    for layer in range(layers):
        layer_input = inp if layer == 0 else directions * hidden
        total += directions * 3 * 2 * steps * gates * (layer_input + hidden)
    return total


def contenders(kind, inp, hidden, layers, bidirectional, x, lengths):
    ref = getattr(torch.nn, kind)(inp, hidden, num_layers=layers, bidirectional=bidirectional, batch_first=True)
    ours = getattr(sk.nn, kind)(inp, hidden, num_layers=layers, bidirectional=bidirectional, batch_first=True)
    ours.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    length = x.shape[1]
    x_ours, x_ref = sk.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)

    def run_ref():
        if lengths is None:
            return ref(x_ref)[0]
        packed = torch.nn.utils.rnn.pack_padded_sequence(x_ref, torch.tensor(lengths), batch_first=True,
                                                         enforce_sorted=False)
        return torch.nn.utils.rnn.pad_packed_sequence(ref(packed)[0], batch_first=True, total_length=length)[0]

    def run_ours():
        return ours(x_ours, lengths=lengths)[0]

    def fwd_ref():
        with torch.no_grad():
            run_ref()

    def fwd_ours():
        with sk.no_grad():
            run_ours()

    def train_ref():
        run_ref().sum().backward()

    def train_ours():
        run_ours().sum().backward()

    return (fwd_ref, fwd_ours), (train_ref, train_ours)


def inputs(inp, batch, length, variable):
    rng = np.random.default_rng(0)
    x = rng.standard_normal((batch, length, inp)).astype(np.float32)
    lengths = rng.integers(length // 8, length + 1, size=batch) if variable else None
    return x, lengths


def main():
    p = benchmark_arguments(rounds=5)
    args = p.parse_args()
    rows = []
    peak = max(measure_fma_peak(args.threads, 0.2) for _ in range(5))
    with thread_limit(args.threads):
        for name, kind, inp, hidden, layers, bi, (batch, length), variable in WORKLOADS:
            row = [name, f"({batch}, {length}, {inp})"]
            x, lengths = inputs(inp, batch, length, variable)
            fwd, train = contenders(kind, inp, hidden, layers, bi, x, lengths)
            for ref_fn, ours_fn in (fwd, train):
                t = median_times({"torch": ref_fn, "seqkernels": ours_fn}, rounds=args.rounds, min_time=0.2)
                row += [f"{t['torch'] * 1e3:.1f}", f"{t['seqkernels'] * 1e3:.1f}", ratio(t["torch"], t["seqkernels"])]
            steps = batch * length if lengths is None else int(lengths.sum())
            floor = training_flops(kind, inp, hidden, layers, bi, steps) / (peak * 1e9)  # seconds at peak
            row += [f"{floor * 1e3:.1f}", f"{floor / t['seqkernels'] * 100:.0f} %"]  # t: the fwd+bwd medians
            rows.append(row)
            print(" | ".join(row), flush=True)
    table = format_table(["workload", "input (B, L, I)", "fwd torch ms", "fwd ours ms", "fwd ratio",
                          "fwd+bwd torch ms", "fwd+bwd ours ms", "fwd+bwd ratio", "fwd+bwd at FMA peak ms",
                          "ours of peak"], rows)
    text = (f"## RNN layers (`benchmarks/bench_rnn.py`)\n\nMachine: {machine_description()}; {args.threads} threads; "
            f"torch {torch.__version__} (oneDNN RNN kernels). batch_first inputs; fwd without a graph, fwd+bwd = "
            f"output.sum().backward(); 'lengths vs packed' gives each sequence a random length in [L/8, L] and "
            f"compares our `lengths=` with torch's pack_padded_sequence path. Ratios: torch time / seqkernels "
            f"time, medians of {args.rounds} alternating rounds. 'fwd+bwd at FMA peak' is the time the GEMM "
            f"multiply-adds of forward + backward (x W_ih^T and h W_hh^T, then dh W_hh, dW_ih, dW_hh, dX: "
            f"6 * rows * G*H * (I + H) flops per layer and direction) take at the measured FP32 FMA peak of "
            f"{peak:.0f} GFLOP/s, a floor no fp32 implementation can beat; 'ours of peak' is those flops over "
            f"our fwd+bwd time.\n\n{table}\n")
    publish(__file__, "rnn", text, args.no_write)


if __name__ == "__main__":
    main()
