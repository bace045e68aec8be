"""Whole Keras jobs: the same functional TextCNN and BiLSTM classifiers built with ``seqkernels.keras`` and with
TensorFlow-Keras, ``fit`` for one epoch on the BBC articles (1,780 training articles, 150 tokens, batch 32;
the other 445 articles validate the accuracy run), at
the same thread count. Each measurement is a fresh process (ours in this Python, TF's in the TF environment,
``--tf-python``), alternating ours / TF round by round; a process builds the model, runs a warm-up epoch on 64
articles (TF traces its graph there), then times one full epoch of ``fit`` and reports its wall time and CPU
share (user + system CPU seconds / wall seconds). The figure is the median over rounds.

    python benchmarks/bench_keras.py [--threads 2] [--rounds 5] [--tf-python /work/venv-tf/bin/python] [--no-write]

Prints the table and rewrites the keras section of benchmarks/RESULTS.md. TensorFlow is a reference only: it
lives in its own virtual environment and never in seqkernels' dependencies.
"""
import json
import os
import statistics
import subprocess
import sys
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
PYTHON_DIR = os.path.join(os.path.dirname(HERE), "python")
MODELS = ("textcnn", "bilstm")
STEPS, VOCAB, TRAIN = 150, 10000, 1780


def build(keras, name):
    """The two classifiers, written once for both APIs."""
    L = keras.layers
    ids = keras.Input(shape=(STEPS,), dtype="int32")
    if name == "textcnn":
        x = L.Embedding(VOCAB, 64)(ids)
        x = L.Concatenate()([L.GlobalMaxPooling1D()(L.Conv1D(64, k, activation="relu")(x)) for k in (3, 4, 5)])
        x = L.Dropout(0.5)(x)
    else:
        x = L.Embedding(VOCAB, 64)(ids)
        x = L.Bidirectional(L.LSTM(64))(x)
        x = L.Dropout(0.3)(x)
    model = keras.Model(ids, L.Dense(5, activation="softmax")(x))
    model.compile(optimizer=keras.optimizers.Adam(learning_rate=1e-3), loss="sparse_categorical_crossentropy",
                  metrics=["accuracy"])
    return model


def data():
    sys.path.insert(0, PYTHON_DIR)
    from seqkernels.data import load_bbc_news
    from seqkernels.preprocessing.sequence import pad_sequences
    from seqkernels.preprocessing.text import Tokenizer
    texts, topics = load_bbc_news()
    names = sorted(set(topics))
    order = np.random.default_rng(0).permutation(len(texts))
    texts, y = [texts[i] for i in order], np.array([names.index(topics[i]) for i in order])
    tok = Tokenizer(num_words=VOCAB, oov_token="<unk>")
    tok.fit_on_texts(texts[:TRAIN])
    x = pad_sequences(tok.texts_to_sequences(texts), maxlen=STEPS).astype(np.int32)
    return x[:TRAIN], y[:TRAIN], x[TRAIN:], y[TRAIN:]


def worker(api, name, threads, epochs=0):
    """One measurement in this process: prints {"wall": s, "cpu_share": f} as JSON; with ``epochs``, instead trains
    that many epochs from the default initialisation and prints the validation accuracy after each."""
    x, y, x_val, y_val = data()
    if api == "tf":
        os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
        import tensorflow as tf
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)
        tf.random.set_seed(0)
        import keras
    else:
        import seqkernels as sk
        sk.set_num_threads(threads)
        sk.manual_seed(0)
        from seqkernels import keras
    model = build(keras, name)
    if epochs:
        history = model.fit(x, y, validation_data=(x_val, y_val), epochs=epochs, batch_size=32, verbose=0)
        print(json.dumps({"val_accuracy": [float(a) for a in history.history["val_accuracy"]]}))
        return
    model.fit(x[:64], y[:64], epochs=1, batch_size=32, verbose=0)
    t0, c0 = time.perf_counter(), os.times()
    model.fit(x, y, epochs=1, batch_size=32, verbose=0)
    wall, c1 = time.perf_counter() - t0, os.times()
    cpu = (c1.user - c0.user) + (c1.system - c0.system)
    print(json.dumps({"wall": wall, "cpu_share": cpu / wall}))


def measure(python, api, name, threads, epochs=0):
    env = dict(os.environ, PYTHONPATH=PYTHON_DIR, OMP_NUM_THREADS=str(threads))
    out = subprocess.run([python, os.path.abspath(__file__), "--worker", api, "--model", name,
                          "--threads", str(threads), "--epochs", str(epochs)], capture_output=True, text=True,
                         env=env, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main():
    sys.path.insert(0, PYTHON_DIR)
    from seqkernels.benchmarking import benchmark_arguments, format_table, machine_description, publish
    parser = benchmark_arguments(rounds=5)
    parser.add_argument("--tf-python", default="/work/venv-tf/bin/python",
                        help="a Python with tensorflow installed (the reference)")
    parser.add_argument("--worker", choices=["sk", "tf"], help=argparse_hidden())
    parser.add_argument("--model", choices=MODELS)
    parser.add_argument("--epochs", type=int, default=4,
                        help="epochs of the (untimed) accuracy run of each model and API; 0 skips it")
    args = parser.parse_args()
    if args.worker:
        return worker(args.worker, args.model, args.threads, args.epochs)
    import seqkernels as sk
    versions = subprocess.run([args.tf_python, "-c", "import tensorflow as tf, keras; print(tf.__version__, "
                               "keras.__version__)"], capture_output=True, text=True,
                              env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")).stdout.split()
    rows = []
    for name in MODELS:
        samples = {"sk": [], "tf": []}
        for _ in range(args.rounds):
            for api, python in (("sk", sys.executable), ("tf", args.tf_python)):
                samples[api].append(measure(python, api, name, args.threads))
                print(name, api, samples[api][-1], flush=True)
        accuracy = {}
        for api, python in (("sk", sys.executable), ("tf", args.tf_python)):
            accuracy[api] = measure(python, api, name, args.threads, args.epochs)["val_accuracy"] \
                if args.epochs else []
            print(name, api, "validation accuracy", accuracy[api], flush=True)
        med = {api: statistics.median(s["wall"] for s in samples[api]) for api in samples}
        share = {api: statistics.median(s["cpu_share"] for s in samples[api]) for api in samples}
        rows.append([{"textcnn": "TextCNN (emb 64, conv 3/4/5 x 64, max-pool)",
                      "bilstm": "BiLSTM (emb 64, Bidirectional(LSTM(64)))"}[name],
                     f"{med['sk']:.2f} s", f"{med['tf']:.2f} s", f"{med['tf'] / med['sk']:.2f}x",
                     f"{share['sk']:.2f} / {share['tf']:.2f}",
                     " / ".join(f"{a[-1]:.3f}" if a else "-" for a in (accuracy["sk"], accuracy["tf"]))])
    markdown = "\n".join([
        "## Keras models: one epoch of `fit` (`benchmarks/bench_keras.py`)",
        "",
        f"{machine_description()}; {sk.build_info()['gemm_kernel']} GEMM; {args.threads} threads for both; "
        f"TensorFlow {versions[0] if versions else '?'} / Keras {versions[1] if len(versions) > 1 else '?'} "
        f"(tensorflow-cpu, oneDNN) in its own venv. BBC articles: {TRAIN} training articles x {STEPS} tokens, "
        f"vocabulary {VOCAB}, batch 32 (56 steps), Adam, sparse categorical cross-entropy, accuracy metric. "
        f"Each figure is the median of {args.rounds} fresh processes alternating ours / TF; the warm-up epoch "
        "(TF's graph tracing) is excluded. CPU share = (user + system CPU s) / wall s of the timed epoch. "
        "The machine is shared: runs were taken under the CPU lock, but other sessions' processes may still run.",
        "",
        format_table(["model", "seqkernels.keras", "TF-Keras", "TF / ours", "CPU share (ours / TF)",
                      f"val. accuracy after {args.epochs} epochs (ours / TF)"], rows),
        "",
        f"Accuracy: each model trained {args.epochs} epochs from its own default initialisation (Keras's "
        "initialisers on both sides, different random streams) and scored on the 445 held-out articles; one run "
        "each, so differences of a few points are seed noise.",
    ])
    publish(__file__, "keras", markdown, args.no_write)


def argparse_hidden():
    import argparse
    return argparse.SUPPRESS


if __name__ == "__main__":
    main()
